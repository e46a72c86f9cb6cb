"""`import_path`: what HELIOS_NOTICE_LEDGER may name."""

import pytest

from pipeline.loading import import_path


def test_a_path_may_name_an_attribute_of_an_attribute() -> None:
    from campaigns.ledger.store import Ledger

    assert import_path("campaigns.ledger.store.Ledger.from_settings") == Ledger.from_settings
    assert import_path("pipeline.loading.import_path") is import_path


@pytest.mark.parametrize(
    "path", ["no.such.module", "campaigns.ledger.store.Nope", "campaigns.ledger.store.Ledger.nope"]
)
def test_a_path_that_does_not_resolve_is_an_import_error(path: str) -> None:
    with pytest.raises(ImportError):
        import_path(path)
