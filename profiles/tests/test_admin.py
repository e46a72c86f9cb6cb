"""User profiles in the Django admin, on the real local Redis (database 14): what a staff user
edits there is what the gRPC service serves next."""

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import grpc
import pytest
import redis
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.test import Client

from conftest import free_port
from profiles.admin import PAGE_SIZE
from profiles.demo import DEMO_PROFILES
from profiles.grpc_server import start_server, stop_server
from profiles.store import ProfileStore
from profiles.types import Interest, Profile
from protos import userprofile_pb2 as pb
from protos import userprofile_pb2_grpc as pb_grpc

pytestmark = pytest.mark.django_db

ADMIN_REDIS_DB = 14  # this module's own database of the shared local Redis
LIST_URL = "/admin/profiles/userprofile/"


def change_url(user_id: str) -> str:
    return f"{LIST_URL}{user_id}/change/"


@pytest.fixture
def store(settings: Any) -> Iterator[ProfileStore]:
    parts = urlsplit(settings.REDIS_URL)
    settings.REDIS_URL = urlunsplit((parts.scheme, parts.netloc, f"/{ADMIN_REDIS_DB}", "", ""))
    settings.HELIOS_PROFILE_STORE = "redis"
    store = ProfileStore.from_url(settings.REDIS_URL)
    try:
        store.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is not reachable at {settings.REDIS_URL}: {exc} (run `make services-up`)")
    store.delete_all()
    store.put_many(DEMO_PROFILES)
    # The placeholder's content type is created on first use (profiles has no models module for
    # migrate to create it), inside this test's transaction: forget it with the transaction.
    ContentType.objects.clear_cache()
    yield store
    store.delete_all()
    ContentType.objects.clear_cache()


@pytest.fixture
def grpc_stub(store: ProfileStore) -> Iterator[pb_grpc.UserProfileServiceStub]:
    server, port = start_server(host="127.0.0.1", port=free_port(), store=store)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield pb_grpc.UserProfileServiceStub(channel)
    finally:
        stop_server(server, grace_s=0)


def served(stub: pb_grpc.UserProfileServiceStub, user_id: str) -> pb.UserProfile:
    return stub.GetUserProfile(pb.GetUserProfileRequest(user_id=user_id), timeout=5).profile


def form_data(
    *,
    user_id: str = "",
    locale: str = "",
    interests: list[tuple[str, Any]] | None = None,
    demographics: list[tuple[str, str]] | None = None,
    initial: tuple[int, int] = (0, 0),
    deleted: tuple[set[int], set[int]] = (set(), set()),
    **extra: str,
) -> dict[str, Any]:
    """The POST an admin user's browser sends: a row for each interest and demographic, and a
    blank one after them. The first `initial` rows of each were shown filled in (the profile's own);
    the rows numbered in `deleted` are ticked for deletion."""
    data: dict[str, Any] = {"user_id": user_id, "locale": locale, **extra}
    for prefix, rows, fields, initial_rows, ticked in (
        ("interests", interests or [], ("category", "score"), initial[0], deleted[0]),
        ("demographics", demographics or [], ("key", "value"), initial[1], deleted[1]),
    ):
        data[f"{prefix}-TOTAL_FORMS"] = len(rows) + 1
        data[f"{prefix}-INITIAL_FORMS"] = initial_rows
        data[f"{prefix}-MIN_NUM_FORMS"] = 0
        data[f"{prefix}-MAX_NUM_FORMS"] = 1000
        for index, row in enumerate(rows):
            for field, value in zip(fields, row, strict=True):
                data[f"{prefix}-{index}-{field}"] = value
            if index in ticked:
                data[f"{prefix}-{index}-DELETE"] = "on"
    return data


def test_staff_login_is_required(store: ProfileStore, client: Client) -> None:
    for url in (LIST_URL, f"{LIST_URL}add/", change_url("user-001"), f"{LIST_URL}user-001/delete/"):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url
    client.force_login(User.objects.create_user("visitor"))  # not staff
    assert "/admin/login/" in client.get(LIST_URL)["Location"]
    client.force_login(User.objects.create_user("clerk", is_staff=True))  # staff without the permission
    assert client.get(LIST_URL).status_code == 403
    assert client.post(change_url("user-001"), form_data(user_id="user-001")).status_code == 403
    assert store.get("user-001") == DEMO_PROFILES[0]


def test_profiles_are_listed_under_the_profiles_app(store: ProfileStore, admin_client: Client) -> None:
    index = admin_client.get("/admin/").content.decode()
    assert LIST_URL in index and "User profiles" in index
    page = admin_client.get(LIST_URL)
    assert page.status_code == 200
    content = page.content.decode()
    for profile in DEMO_PROFILES:
        assert change_url(profile.user_id) in content
    assert "sports 0.95" in content and "age_range=25-34" in content


def test_search_by_user_id(store: ProfileStore, admin_client: Client) -> None:
    store.put_many([Profile(user_id="user-001x"), Profile(user_id="odd*id?[x]")])
    rows = admin_client.get(LIST_URL, {"q": "user-001"}).context["rows"]
    assert [row["user_id"] for row in rows] == ["user-001", "user-001x"]  # the exact match first
    assert [row["user_id"] for row in admin_client.get(LIST_URL, {"q": "02"}).context["rows"]] == [
        "user-002",
        "user-020",
    ]
    assert [row["user_id"] for row in admin_client.get(LIST_URL, {"q": "*id?[x"}).context["rows"]] == ["odd*id?[x]"]
    assert admin_client.get(LIST_URL, {"q": "?"}).context["rows"][0]["user_id"] == "odd*id?[x]"
    assert admin_client.get(LIST_URL, {"q": "nobody"}).context["rows"] == []


def test_pages_walk_every_profile_once(store: ProfileStore, admin_client: Client) -> None:
    store.put_many(Profile(user_id=f"bulk-{n:04d}") for n in range(3 * PAGE_SIZE))
    seen: list[str] = []
    url: str | None = LIST_URL
    pages = 0
    while url:
        response = admin_client.get(url if url.startswith("/") else LIST_URL + url)
        seen += [row["user_id"] for row in response.context["rows"]]
        url = response.context["next_url"]
        pages += 1
    assert pages >= 3
    assert sorted(seen) == sorted({*seen}) == sorted([p.user_id for p in DEMO_PROFILES] + [f"bulk-{n:04d}" for n in range(3 * PAGE_SIZE)])  # fmt: skip


def test_an_edit_in_the_admin_is_served_over_grpc(
    store: ProfileStore, admin_client: Client, grpc_stub: pb_grpc.UserProfileServiceStub
) -> None:
    before = served(grpc_stub, "user-001")
    assert [(i.category, round(i.score, 2)) for i in before.interests] == [("sports", 0.95), ("technology", 0.6)]
    page = admin_client.get(change_url("user-001"))
    assert page.status_code == 200 and b'value="sports"' in page.content and b"History" in page.content
    response = admin_client.post(
        change_url("user-001"),
        form_data(
            user_id="ignored: the id is not editable",
            locale="de-DE",
            interests=[("sports", "0.95"), ("technology", "0.6"), ("travel", "0.97")],
            demographics=[("age_range", "35-44"), ("gender", "m"), ("country", "DE"), ("income", "medium")],
            initial=(2, 4),
            deleted=({0}, {1, 3}),
        ),
    )
    assert response.status_code == 302 and response["Location"] == LIST_URL
    after = served(grpc_stub, "user-001")
    assert after.user_id == "user-001" and after.locale == "de-DE"
    assert [(i.category, round(i.score, 2)) for i in after.interests] == [("technology", 0.6), ("travel", 0.97)]
    assert dict(after.demographics) == {"age_range": "35-44", "country": "DE"}
    entry = LogEntry.objects.get()
    assert entry.object_id == "user-001" and entry.change_message == "Changed locale, interests, demographics."
    assert admin_client.get(f"{LIST_URL}user-001/history/").status_code == 200


def test_add_and_delete(store: ProfileStore, admin_client: Client, grpc_stub: pb_grpc.UserProfileServiceStub) -> None:
    assert admin_client.get(f"{LIST_URL}add/").status_code == 200
    response = admin_client.post(
        f"{LIST_URL}add/",
        form_data(user_id="new/user 1", locale="en-US", interests=[("music", "0.7")], _continue="1"),
    )
    assert response.status_code == 302 and response["Location"] == change_url("new_2Fuser%201")  # admin-quoted
    assert store.get("new/user 1") == Profile(
        user_id="new/user 1", locale="en-US", interests=[Interest("music", 0.7)], demographics={}
    )
    assert served(grpc_stub, "new/user 1").interests[0].category == "music"
    assert admin_client.get(response["Location"]).status_code == 200

    again = admin_client.post(f"{LIST_URL}add/", form_data(user_id="new/user 1"))
    assert again.status_code == 200 and "already exists" in str(again.context["form"].errors)

    confirm = admin_client.get(f"{LIST_URL}new_2Fuser%201/delete/")
    assert confirm.status_code == 200 and b"Are you sure" in confirm.content
    assert admin_client.post(f"{LIST_URL}new_2Fuser%201/delete/", {"post": "yes"}).status_code == 302
    assert store.get("new/user 1") is None
    with pytest.raises(grpc.RpcError) as error:
        served(grpc_stub, "new/user 1")
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    assert admin_client.get(change_url("new_2Fuser%201"))["Location"] == LIST_URL  # gone: back to the list


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (form_data(user_id="user-001", interests=[("sports", "1.5")]), "less than or equal to 1"),
        (form_data(user_id="user-001", interests=[("sports", "-0.1")]), "greater than or equal to 0"),
        (form_data(user_id="user-001", interests=[("sports", "abc")]), "Enter a number"),
        (form_data(user_id="user-001", interests=[("", "0.5")]), "This field is required"),
        (form_data(user_id="user-001", interests=[("x" * 65, "0.5")]), "at most 64 characters"),
        (form_data(user_id="user-001", interests=[("food", "0.5"), ("food", "0.6")]), "listed twice"),
        (form_data(user_id="user-001", demographics=[("", "x")]), "This field is required"),
    ],
)
def test_invalid_edits_are_refused_and_nothing_is_written(
    store: ProfileStore, admin_client: Client, data: dict[str, Any], message: str
) -> None:
    old = store.get("user-001")
    response = admin_client.post(change_url("user-001"), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert store.get("user-001") == old


@pytest.mark.parametrize("user_id", ["", " padded ", "u" * 129])
def test_bad_user_ids_are_refused(store: ProfileStore, admin_client: Client, user_id: str) -> None:
    response = admin_client.post(f"{LIST_URL}add/", form_data(user_id=user_id))
    assert response.status_code == 200 and response.context["form"].errors
    assert store.get(user_id) is None if user_id else True


def test_redis_down_is_a_message_not_a_crash(settings: Any, admin_client: Client) -> None:
    settings.HELIOS_PROFILE_STORE = "redis"
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/{ADMIN_REDIS_DB}"
    response = admin_client.get(LIST_URL)
    assert response.status_code == 200
    assert "unavailable" in response.content.decode()
