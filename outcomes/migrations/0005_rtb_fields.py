"""SPEC §12: the campaign decision's fields on every outcome, and RTB's (OpenRTB bid id, privacy
state, decision latency and deadline); the RTB rollup rows. Rows stored before get source "helios"
and NULLs, and are in no RTB rollup (they are not RTB). The three indexes lock writes to the table
while they are built (as 0002's did)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('outcomes', '0004_search_indexes'),
    ]

    operations = [
        migrations.CreateModel(
            name='OutcomeRtbRollup',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('privacy', models.CharField(blank=True, default='', max_length=32)),
                ('nbr', models.IntegerField(default=-1)),
                ('total', models.BigIntegerField(default=0)),
                ('bids', models.BigIntegerField(default=0)),
            ],
            options={
                'ordering': ['day', 'privacy', 'nbr'],
            },
        ),
        migrations.AddField(
            model_name='auctionoutcome',
            name='campaign_id',
            field=models.BigIntegerField(blank=True, help_text='The campaign that bid (0: built-in house)', null=True),
        ),
        migrations.AddField(
            model_name='auctionoutcome',
            name='deadline_ms',
            field=models.FloatField(blank=True, help_text="RTB: the request's deadline, ms", null=True),
        ),
        migrations.AddField(
            model_name='auctionoutcome',
            name='latency_ms',
            field=models.FloatField(blank=True, help_text='RTB: request received -> decided, ms', null=True),
        ),
        migrations.AddField(
            model_name='auctionoutcome',
            name='nbr',
            field=models.IntegerField(blank=True, help_text='OpenRTB no-bid reason code, when no bid', null=True),
        ),
        migrations.AddField(
            model_name='auctionoutcome',
            name='privacy',
            field=models.CharField(blank=True, help_text="The RTB request's privacy state (SPEC §16)", max_length=32, null=True),
        ),
        migrations.AddField(
            model_name='auctionoutcome',
            name='rtb_bid_id',
            field=models.CharField(blank=True, help_text='The OpenRTB bid id (seatbid[].bid[].id)', max_length=128, null=True),
        ),
        migrations.AddField(
            model_name='auctionoutcome',
            name='source',
            field=models.CharField(default='helios', help_text='helios, openrtb or rtb', max_length=16),
        ),
        migrations.AddIndex(
            model_name='auctionoutcome',
            index=models.Index(fields=['campaign_id', 'timestamp'], name='outcome_campaign_ts_idx'),
        ),
        migrations.AddIndex(
            model_name='auctionoutcome',
            index=models.Index(fields=['source', 'created_at'], name='outcome_source_created_idx'),
        ),
        migrations.AddIndex(
            model_name='auctionoutcome',
            index=models.Index(condition=models.Q(('nbr__isnull', False)), fields=['nbr', 'timestamp'], name='outcome_nbr_ts_idx'),
        ),
        migrations.AddConstraint(
            model_name='outcomertbrollup',
            constraint=models.UniqueConstraint(fields=('day', 'privacy', 'nbr'), name='rtb_rollup_day_privacy_nbr'),
        ),
    ]
