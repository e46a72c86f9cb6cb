"""The committed stubs are current, importable as `protos.*`, and the wire format is the original's."""

import os
import subprocess
from pathlib import Path

from django.conf import settings

from protos import userprofile_pb2 as pb
from protos import userprofile_pb2_grpc as pb_grpc

REPO = Path(settings.BASE_DIR)
GENERATED = ("userprofile_pb2.py", "userprofile_pb2_grpc.py", "userprofile_pb2.pyi", "userprofile_pb2_grpc.pyi")


def test_committed_stubs_match_a_fresh_generation(tmp_path):
    import sys

    env = dict(os.environ, HELIOS_PYTHON=sys.executable)
    subprocess.run(["bash", str(REPO / "scripts/gen_protos.sh"), str(tmp_path)], check=True, env=env, timeout=120)
    for name in GENERATED:
        fresh = (tmp_path / "protos" / name).read_bytes()
        committed = (REPO / "protos" / name).read_bytes()
        assert fresh == committed, f"protos/{name} is stale: run scripts/gen_protos.sh"


def test_stubs_import_each_other_absolutely():
    source = (REPO / "protos/userprofile_pb2_grpc.py").read_text()
    assert "from protos import userprofile_pb2" in source
    assert pb_grpc.UserProfileServiceStub is not None


def test_service_and_methods_keep_the_original_names():
    service = pb.DESCRIPTOR.services_by_name["UserProfileService"]
    assert service.full_name == "helios.userprofile.UserProfileService"
    methods = {m.name: (m.input_type.full_name, m.output_type.full_name) for m in service.methods}
    assert methods == {
        "GetUserProfile": ("helios.userprofile.GetUserProfileRequest", "helios.userprofile.GetUserProfileResponse"),
        "BatchGetUserProfiles": (
            "helios.userprofile.BatchGetUserProfilesRequest",
            "helios.userprofile.BatchGetUserProfilesResponse",
        ),
    }


def _fields(message) -> dict[str, tuple[int, int, bool]]:
    return {f.name: (f.number, f.type, f.is_repeated) for f in message.DESCRIPTOR.fields}


def test_field_numbers_and_types_are_the_original_ones():
    from google.protobuf.descriptor import FieldDescriptor as F

    assert _fields(pb.GetUserProfileRequest) == {"user_id": (1, F.TYPE_STRING, False)}
    assert _fields(pb.GetUserProfileResponse) == {"profile": (1, F.TYPE_MESSAGE, False)}
    assert _fields(pb.UserProfile) == {
        "user_id": (1, F.TYPE_STRING, False),
        "locale": (2, F.TYPE_STRING, False),
        "interests": (3, F.TYPE_MESSAGE, True),
        "demographics": (4, F.TYPE_MESSAGE, True),
    }
    entry = pb.UserProfile.DESCRIPTOR.fields_by_name["demographics"].message_type
    assert entry is not None
    assert entry.GetOptions().map_entry
    assert _fields(pb.Interest) == {"category": (1, F.TYPE_STRING, False), "score": (2, F.TYPE_DOUBLE, False)}
    assert _fields(pb.BatchGetUserProfilesRequest) == {"user_ids": (1, F.TYPE_STRING, True)}
    assert _fields(pb.BatchGetUserProfilesResponse) == {"profiles": (1, F.TYPE_MESSAGE, True)}


def test_encoding_is_byte_for_byte_what_the_original_schema_produces():
    message = pb.UserProfile(
        user_id="u1", locale="en", interests=[pb.Interest(category="golf", score=0.5)], demographics={"a": "b"}
    )
    expected = (
        b"\x0a\x02u1"  # 1: user_id
        b"\x12\x02en"  # 2: locale
        b"\x1a\x0f\x0a\x04golf\x11\x00\x00\x00\x00\x00\x00\xe0\x3f"  # 3: Interest{1: "golf", 2: 0.5 (double)}
        b"\x22\x06\x0a\x01a\x12\x01b"  # 4: map entry {1: key, 2: value}
    )
    assert message.SerializeToString(deterministic=True) == expected
    assert pb.UserProfile.FromString(expected) == message
