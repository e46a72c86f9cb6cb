"""Outcomes become unique on (bid_id, request_digest, imp_id): distinct requests sharing an id are
both stored (docs/design.md, "Which requests are the same"). Rows stored before keep digest "".

The new unique index is built before the old one is dropped (one transaction on PostgreSQL); it
locks writes to the table while it is built (about half a minute per 5 million rows)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("outcomes", "0002_price_id_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="auctionoutcome",
            name="request_digest",
            field=models.CharField(
                blank=True,
                default="",
                help_text="Digest of the accepted request: tells apart distinct requests sharing an id",
                max_length=16,
            ),
        ),
        migrations.AddConstraint(
            model_name="auctionoutcome",
            constraint=models.UniqueConstraint(
                fields=("bid_id", "request_digest", "imp_id"), name="outcome_unique_request_imp"
            ),
        ),
        migrations.RemoveConstraint(
            model_name="auctionoutcome",
            name="outcome_unique_bid_imp",
        ),
    ]
