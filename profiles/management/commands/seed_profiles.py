from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from profiles.demo import DEMO_PROFILES, SYNTHETIC_SEED, synthetic_profiles
from profiles.services import profile_delete_all, profile_save_many
from profiles.store import WRITE_CHUNK, profile_store, redis_location


class Command(BaseCommand):
    help = (
        "Load the deterministic demo profiles (user-001 ... user-020) into the profile store, "
        "optionally with N synthetic users (synth-000001 ...). Idempotent: re-running overwrites."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--synthetic", type=int, default=0, metavar="N", help="also write N synthetic users")
        parser.add_argument("--seed", type=int, default=SYNTHETIC_SEED, help="RNG seed of the synthetic users")
        parser.add_argument("--flush", action="store_true", help="first delete every helios:profile:* key")
        parser.add_argument("--chunk", type=int, default=WRITE_CHUNK, help="profiles per pipelined write")

    def handle(self, *args: Any, synthetic: int, seed: int, flush: bool, chunk: int, **options: Any) -> None:
        if synthetic < 0 or chunk < 1:
            raise CommandError("--synthetic must be >= 0 and --chunk >= 1")
        store = profile_store()
        where = (
            "the in-process store" if settings.HELIOS_PROFILE_STORE == "fake" else redis_location(settings.REDIS_URL)
        )
        if flush:
            self.stdout.write(f"deleted {profile_delete_all(store=store)} profiles from {where}")
        written = profile_save_many(profiles=DEMO_PROFILES, store=store)
        if synthetic:
            with tqdm(total=synthetic, unit="user", desc="synthetic profiles", disable=None) as bar:
                for start in range(0, synthetic, chunk):
                    count = min(chunk, synthetic - start)
                    batch = synthetic_profiles(count, seed=seed, first=start + 1)
                    written += profile_save_many(profiles=batch, store=store, chunk_size=chunk)
                    bar.update(count)
        self.stdout.write(f"wrote {written} profiles ({len(DEMO_PROFILES)} demo, {synthetic} synthetic) to {where}")
