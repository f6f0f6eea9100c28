"""Persistence on SQLite and on the real PostgreSQL server (every test runs on both)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from shared import aio
from shared.config import Settings
from shared.core.inputs import from_values
from shared.core.models import MxHost, ScanRecord, ScanStatus
from shared.core.providers import classify
from shared.core.results import ScanResult
from shared.core.scoring import score_record
from shared.scan.pipeline import run_pipeline
from shared.store.db import engine_for
from shared.store.leads import LeadStore
from tests.integration.zones import RECORDS

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def record(domain: str, mx: str | None, *, status: ScanStatus = ScanStatus.OK, at: datetime = T0) -> ScanRecord:
    raw = ScanRecord(
        input=domain,
        domain=domain,
        domain_unicode=domain,
        status=status,
        mx=[MxHost(preference=10, host=mx)] if mx else [],
        scanned_at=at,
    )
    return classify(raw)


def result(rec: ScanRecord) -> ScanResult:
    return ScanResult(rec, score_record(rec))


@pytest.fixture
def repo(database_url: str) -> LeadStore:
    return LeadStore(engine_for(database_url))


def count(repo: LeadStore, table: str) -> int:
    with repo.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608 - fixed names


def test_schema_is_migrated_to_head(repo: LeadStore):
    from importlib import resources

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(resources.files("shared.store") / "migrations"))
    head = ScriptDirectory.from_config(config).get_current_head()
    with repo.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == head
    tables = set(sa.inspect(repo.engine).get_table_names())
    assert tables >= {"domains", "leads", "snapshots", "change_events", "api_keys"}


def test_migrations_go_down_and_up_again(database_url: str):
    from shared.store.db import make_engine, migrate

    engine = make_engine(database_url)
    migrate(engine)
    migrate_down = __import__("alembic.command", fromlist=["downgrade"]).downgrade
    from importlib import resources

    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("shared.store") / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        migrate_down(config, "base")
    assert "leads" not in sa.inspect(engine).get_table_names()
    migrate(engine)
    assert "api_keys" in sa.inspect(engine).get_table_names()
    engine.dispose()


def test_rescan_updates_the_lead_and_appends_a_snapshot(repo: LeadStore):
    repo.save([result(record("acme.com.tr", "aspmx.l.google.com"))])
    repo.save([result(record("acme.com.tr", "aspmx.l.google.com", at=T0 + timedelta(days=1)))])
    assert (count(repo, "domains"), count(repo, "leads"), count(repo, "snapshots")) == (1, 1, 2)
    lead = repo.lead("acme.com.tr")
    assert lead.scan_count == 2 and lead.provider == "Google"
    assert lead.scanned_at == T0 + timedelta(days=1)
    assert lead.score is not None and lead.rules_version and lead.breakdown
    assert repo.snapshot_count("acme.com.tr") == 2


def test_provider_change_is_stored_as_an_event(repo: LeadStore):
    repo.save([result(record("acme.com.tr", "aspmx.l.google.com"))])
    later = result(record("acme.com.tr", "acme-com-tr.mail.protection.outlook.com", at=T0 + timedelta(days=7)))
    repo.save([later])
    assert [e.kind.value for e in later.events] == ["provider_changed"]
    events = repo.events("acme.com.tr")
    assert [(e.kind, e.before, e.after) for e in events] == [("provider_changed", "Google", "M365")]
    assert repo.lead("acme.com.tr").changed_at == T0 + timedelta(days=7)
    assert repo.events(since=T0 + timedelta(days=8)) == []
    assert len(repo.events(since=T0 + timedelta(days=6))) == 1


def test_transient_failure_does_not_wipe_a_good_lead(repo: LeadStore):
    repo.save([result(record("acme.com.tr", "aspmx.l.google.com"))])
    flaky = result(record("acme.com.tr", None, status=ScanStatus.TIMEOUT, at=T0 + timedelta(days=1)))
    repo.save([flaky])
    lead = repo.lead("acme.com.tr")
    assert lead.provider == "Google" and lead.status == "ok"
    assert flaky.events == []
    assert repo.snapshot_count("acme.com.tr") == 2  # the attempt is still on record
    assert repo.latest_record("acme.com.tr").status is ScanStatus.TIMEOUT


def test_change_across_a_failed_scan_is_still_detected(repo: LeadStore):
    repo.save([result(record("acme.com.tr", "aspmx.l.google.com"))])
    repo.save([result(record("acme.com.tr", None, status=ScanStatus.SERVFAIL, at=T0 + timedelta(days=1)))])
    moved = result(record("acme.com.tr", "acme-com-tr.mail.protection.outlook.com", at=T0 + timedelta(days=2)))
    repo.save([moved])
    assert [(e.kind.value, e.before, e.after) for e in moved.events] == [("provider_changed", "Google", "M365")]


def test_same_domain_twice_in_one_batch(repo: LeadStore):
    repo.save(
        [
            result(record("acme.com.tr", "aspmx.l.google.com")),
            result(record("acme.com.tr", "mx.yandex.net", at=T0 + timedelta(hours=1))),
        ]
    )
    assert (count(repo, "domains"), count(repo, "leads"), count(repo, "snapshots")) == (1, 1, 2)
    assert repo.lead("acme.com.tr").provider == "Yandex"


def test_invalid_inputs_are_not_persisted(repo: LeadStore):
    bad = ScanResult(ScanRecord(input="nan", domain=None, status=ScanStatus.INVALID, error="placeholder"))
    repo.save([bad])
    assert count(repo, "domains") == 0


def test_turkish_text_round_trips(repo: LeadStore):
    rec = record("xn--irketim-8pb.com.tr", "mx1.natrohost.com")
    rec.domain_unicode = "şirketim.com.tr"
    repo.save([ScanResult(rec, score_record(rec), company_name="Şirketim Yazılım A.Ş.")])
    with repo.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT unicode_name, company_name FROM domains")).one()
    assert tuple(row) == ("şirketim.com.tr", "Şirketim Yazılım A.Ş.")
    assert repo.lead("xn--irketim-8pb.com.tr").local_provider == "Natro"


def test_pipeline_scans_into_the_database(dns_server_factory, database_url: str):
    dns = dns_server_factory(RECORDS)
    settings = Settings(
        dns_nameservers=[dns.address],
        dns_timeout=0.3,
        whois_enabled=False,
        database_url=database_url,
        write_batch_size=3,
    )
    repository = LeadStore(engine_for(database_url))
    inputs = [
        "m365.com.tr",
        "www.google.com.tr",
        "info@gw.com.tr",
        "nan",
        "M365.COM.TR",
        "godaddy.com.tr",
        "nomx.com",
        "doesnotexist.com",
    ]
    seen: list[ScanResult] = []
    summary = aio.run(run_pipeline(from_values(inputs), settings, repository, seen.append))
    assert (summary.total, summary.scanned, summary.invalid, summary.duplicates) == (8, 6, 1, 1)
    assert len(seen) == 7
    assert count(repository, "leads") == 6
    assert repository.lead("gw.com.tr").gateway == "Mimecast"
    assert repository.lead("doesnotexist.com").status == "nxdomain"
    # a second run over the same input: no new domain or lead, one more snapshot each
    aio.run(run_pipeline(from_values(inputs), settings, repository))
    assert (count(repository, "domains"), count(repository, "leads"), count(repository, "snapshots")) == (6, 6, 12)


def test_migrations_match_the_models(database_url: str):
    """Alembic's autogenerate finds nothing to add: the migration history and the models agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from shared.store.models import Base

    def not_search_index(name, type_, parent_names) -> bool:
        # The trigram search structures are backend-specific SQL (FTS5 table, pg_trgm index) by design.
        return not (name or "").startswith(("domains_search", "ix_domains_search"))

    engine = engine_for(database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": not_search_index})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_database_errors_carry_no_bound_values(database_url, caplog):
    """Every engine hides bound parameters, and a failed queue message is logged as type, place and id."""
    import logging

    import sqlalchemy as sa

    from shared.logs import log_failure
    from shared.store.db import engine_for
    from shared.store.models import ApiKeyRow

    engine = engine_for(database_url)
    secret = "Gizli Şirket token-cache-1234"
    row = {"id": "k1", "name": secret, "secret_hash": secret, "scopes": "read", "rate_limit_per_minute": 1}
    with engine.begin() as connection:
        connection.execute(sa.insert(ApiKeyRow.__table__), row)
    with pytest.raises(sa.exc.IntegrityError) as caught:
        with engine.begin() as connection:
            connection.execute(sa.insert(ApiKeyRow.__table__), row)  # the same primary key again
    assert secret not in str(caught.value)
    with caplog.at_level(logging.ERROR, logger="hunter.test"):
        error_id = log_failure(logging.getLogger("hunter.test"), "queue message failed", caught.value)
    logged = caplog.records[-1]
    assert logged.error_id == error_id and logged.error.startswith("IntegrityError(")
    assert secret not in logged.getMessage() and all(secret not in str(v) for v in vars(logged).values())
    assert logged.exc_info is None
