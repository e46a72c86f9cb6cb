"""Conversions between `profiles.types.Profile` and the `helios.userprofile.UserProfile` message."""

from profiles.types import Interest, Profile
from protos import userprofile_pb2 as pb


def profile_to_proto(profile: Profile) -> pb.UserProfile:
    return pb.UserProfile(
        user_id=profile.user_id,
        locale=profile.locale,
        interests=[pb.Interest(category=i.category, score=i.score) for i in profile.interests],
        demographics=profile.demographics,
    )


def profile_from_proto(message: pb.UserProfile) -> Profile:
    return Profile(
        user_id=message.user_id,
        locale=message.locale,
        interests=[Interest(category=i.category, score=i.score) for i in message.interests],
        demographics=dict(message.demographics),
    )
