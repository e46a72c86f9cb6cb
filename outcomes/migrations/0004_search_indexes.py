"""Indexes for the API's filtered reads at millions of rows (issue 14).

- `site_domain` filters: the (site_domain, timestamp) index also carries the columns the stats and
  the wins/losses split read, so a site's count and stats are index-only scans (PostgreSQL; other
  databases get the plain index).
- `search`: pg_trgm GIN indexes on UPPER(column) for bid_id, user_id and site_domain, the
  expression Django's `icontains` compares on PostgreSQL, so a substring search reads the index
  instead of every row. PostgreSQL only (SQLite has no GIN): they are not in the model's state.

Building them takes about a minute per 5 million rows and blocks writes meanwhile; on a large
table, create them beforehand with CREATE INDEX CONCURRENTLY under the same names (IF NOT EXISTS
here then skips them)."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

SEARCHED = ("bid_id", "user_id", "site_domain")


class PostgresOnlySQL(migrations.RunSQL):
    """RunSQL on PostgreSQL; nothing elsewhere."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [
        ("outcomes", "0003_request_digest"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="auctionoutcome",
            index=models.Index(
                fields=["site_domain", "timestamp"],
                include=("win_status", "win_price", "bid_price", "enriched"),
                name="outcome_site_ts_covering_idx",
            ),
        ),
        migrations.RemoveIndex(
            model_name="auctionoutcome",
            name="outcome_site_timestamp_idx",
        ),
        TrigramExtension(),
        *(
            PostgresOnlySQL(
                f"CREATE INDEX IF NOT EXISTS outcome_{column}_trgm_idx ON outcomes_auctionoutcome "
                f"USING gin (UPPER({column}::text) gin_trgm_ops)",
                reverse_sql=f"DROP INDEX IF EXISTS outcome_{column}_trgm_idx",
            )
            for column in SEARCHED
        ),
    ]
