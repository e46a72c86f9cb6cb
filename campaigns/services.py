"""Writes (SPEC §13): every create, update, status change and delete validates the whole row
(`full_clean`: field rules and the cross-field rules of `campaigns.validation`), saves it, and,
once the transaction commits, bumps the change signal that running bid paths watch.

Raise `django.core.exceptions.ValidationError` (field -> messages) on bad values,
`django.db.models.ProtectedError` when deleting an advertiser that still has campaigns.
"""

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from django.db import models, transaction

from campaigns.changes import index_bump
from campaigns.models import Advertiser, Campaign, Creative, Status

M = TypeVar("M", bound=models.Model)


def _changed() -> None:
    transaction.on_commit(index_bump)


def _save(instance: M) -> M:
    instance.full_clean()
    with transaction.atomic():
        instance.save()
        _changed()
    return instance


def _assign(instance: M, data: Mapping[str, Any]) -> M:
    for field, value in data.items():
        setattr(instance, field, value)
    return instance


def advertiser_save(*, advertiser: Advertiser) -> Advertiser:
    return _save(advertiser)


def advertiser_create(*, data: Mapping[str, Any]) -> Advertiser:
    return _save(Advertiser(**data))


def advertiser_update(*, advertiser: Advertiser, data: Mapping[str, Any]) -> Advertiser:
    return _save(_assign(advertiser, data))


def advertiser_delete(*, advertiser: Advertiser) -> None:
    with transaction.atomic():
        advertiser.delete()
        _changed()


def campaign_save(*, campaign: Campaign) -> Campaign:
    return _save(campaign)


def campaign_create(*, data: Mapping[str, Any]) -> Campaign:
    return _save(Campaign(**data))


def campaign_update(*, campaign: Campaign, data: Mapping[str, Any]) -> Campaign:
    return _save(_assign(campaign, data))


def campaign_set_status(*, campaigns: Iterable[Campaign], status: Status) -> int:
    """Pauses or activates campaigns (one signal for all); returns how many changed."""
    changed = 0
    with transaction.atomic():
        for campaign in campaigns:
            if campaign.status != status:
                campaign.status = status
                campaign.save(update_fields=["status", "updated_at"])
                changed += 1
        if changed:
            _changed()
    return changed


def campaign_delete(*, campaign: Campaign) -> None:
    with transaction.atomic():
        campaign.delete()
        _changed()


def creative_save(*, creative: Creative) -> Creative:
    return _save(creative)


def creative_create(*, data: Mapping[str, Any]) -> Creative:
    return _save(Creative(**data))


def creative_update(*, creative: Creative, data: Mapping[str, Any]) -> Creative:
    return _save(_assign(creative, data))


def creative_set_status(*, creatives: Iterable[Creative], status: Status) -> int:
    changed = 0
    with transaction.atomic():
        for creative in creatives:
            if creative.status != status:
                creative.status = status
                creative.save(update_fields=["status", "updated_at"])
                changed += 1
        if changed:
            _changed()
    return changed


def creative_delete(*, creative: Creative) -> None:
    with transaction.atomic():
        creative.delete()
        _changed()
