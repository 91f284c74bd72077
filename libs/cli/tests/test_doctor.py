"""``callbridge doctor`` and docs/pbx-setup.md against a real Asterisk 22.

One Asterisk (the lab config, its manager.conf replaced) has three AMI users: ``callbridge``
exactly as docs/pbx-setup.md gives it (read classes and eventfilters), ``weak`` with the usual
restricted rights (``read = system,call,agent,cdr,reporting``) and ``full`` (read = all, no
filters). The doctor is run against the weak and the documented user, a CRM fake with a
broken and a good credential, the session's Redis (no persistence) and one of our own with
AOF. The documented user is then checked to give the tracker the same calls as ``full``.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner

from aioami import AMIClient, AMIConfig, FrameBatch
from ami_ingest import PbxSettings
from api_gateway.main import create_app
from api_gateway.testing import serving, settings_for
from call_tracker.reducer import RawEntry
from call_tracker.reducer.dispatch import _HANDLERS
from call_tracker.reducer.pbxapps import APPS
from call_tracker.reducer.topology import Topology
from call_tracker.replay import replay
from callbridge_cli.doctor import (
    Finding,
    Targets,
    check_crm,
    check_gateway,
    check_pbx,
    check_redis,
    load_targets,
    parse_manager_user,
    render,
    run_checks,
)
from callbridge_cli.main import cli
from cbcontracts import CallEnded
from cbcrm.builtin import BuiltinCrm
from cbcrm.fakes import FakeMegaplan
from cbruntime import Secret
from cbstreams import connect
from cbstreams.localredis import wait_for_ping
from crm_sync.auth import AuthKeys
from crm_sync.remote_settings import MegaplanSyncSettings
from crm_sync.settings import BuiltinSettings, CrmSyncSettings
from pbxlab import DIDS, Hangup, Lab, Refer, Talk, start_lab
from pbxlab.asterisk import LAB_CONF, free_port, kit_dir

DOC = Path(__file__).resolve().parents[3] / "docs" / "pbx-setup.md"
SECRET = "doctor-test-secret"


def documented_user() -> str:
    """The ``[callbridge]`` block of docs/pbx-setup.md, its secret and permit for the lab."""
    text = DOC.read_text()
    block = re.search(r"<!-- manager-user -->\n```ini\n(.*?)```", text, re.S)
    assert block is not None, "docs/pbx-setup.md lost its manager-user block"
    out = re.sub(r"(?m)^secret = .*$", f"secret = {SECRET}", block.group(1))
    return re.sub(r"(?m)^permit = .*$", "permit = 127.0.0.1/255.255.255.255", out)


MANAGER_CONF = f"""[general]
enabled = yes
bindaddr = 127.0.0.1
port = @AMI_PORT@
displayconnects = no
webenabled = no
tlsenable = yes
tlsbindaddr = 127.0.0.1:@AMI_TLS_PORT@
tlscertfile = @CERT@
tlsprivatekey = @KEY@

[@AMI_USER@]
secret = @AMI_SECRET@
permit = 127.0.0.1/255.255.255.255
read = all
write = all

[full]
secret = {SECRET}
permit = 127.0.0.1/255.255.255.255
read = all
write = all

[weak]
secret = {SECRET}
permit = 127.0.0.1/255.255.255.255
read = system,call,agent,cdr,reporting
write = system,call,originate

"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, pbxlab_cache: Path) -> Iterator[Lab]:
    if kit_dir() is None:
        pytest.skip("no real Asterisk: ../shared/asterisk is absent (or set PBXLAB_KIT)")
    conf = tmp_path_factory.mktemp("doctor-conf")
    shutil.copytree(LAB_CONF, conf, dirs_exist_ok=True)
    user = documented_user().replace("write = system,call,originate",
                                     "write = system,call,originate,command")  # fmt: skip
    (conf / "manager.conf").write_text(MANAGER_CONF + user)
    # No MWI: an unanswered NOTIFY after REGISTER is retransmitted for ~30 s, and a phone's
    # next sipp (-m 1) spends its one call auto-answering it, then ignores the INVITE.
    pjsip = conf / "pjsip.conf"
    pjsip.write_text(re.sub(r"(?m)^mailboxes = .*$", "", pjsip.read_text()))
    ca = trustme.CA()
    keys = tmp_path_factory.mktemp("doctor-keys")
    ca.cert_pem.write_to_path(str(keys / "ca.pem"))
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(str(keys / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(keys / "cert.pem"))
    defines = {"AMI_TLS_PORT": free_port(), "CERT": keys / "cert.pem", "KEY": keys / "key.pem"}
    started = start_lab("22", tmp_path_factory.mktemp("doctor-ast"), confdir=conf,
                        defines={k: str(v) for k, v in defines.items()},
                        cache_dir=pbxlab_cache)  # fmt: skip
    try:
        yield started
    finally:
        started.stop()


def pbx(lab: Lab, user: str) -> PbxSettings:
    return PbxSettings(host="127.0.0.1", port=lab.ast.ami_port, username=user,
                       secret=Secret(SECRET), auth="md5")  # fmt: skip


def by_check(findings: list[Finding]) -> dict[str, Finding]:
    return {f.check: f for f in findings}


async def test_the_restricted_user_is_told_it_loses_the_dialplan_class(lab: Lab) -> None:
    got = by_check(await check_pbx("main", pbx(lab, "weak"), wait_s=1.5))
    assert got["login"].status == "ok"
    assert got["CoreShowChannels"].status == "ok"
    assert got["events dialplan"].status == "fail"
    assert "dialplan" in got["events dialplan"].fix
    assert got["events call"].status == "ok"
    assert got["events system"].status == "ok"
    assert got["user classes"].status == "warn"  # no command: agent not verifiable


async def test_the_documented_user_passes_every_pbx_check(lab: Lab) -> None:
    found = await check_pbx("main", pbx(lab, "callbridge"))
    assert [f for f in found if f.status != "ok"] == [], found
    assert {"events dialplan", "events call", "events system", "user classes"} <= {
        f.check for f in found
    }


async def test_a_wrong_secret_and_a_closed_port_fail_with_a_fix(lab: Lab) -> None:
    bad = PbxSettings(host="127.0.0.1", port=lab.ast.ami_port, username="weak",
                      secret=Secret("nope"), auth="md5")  # fmt: skip
    got = by_check(await check_pbx("main", bad))
    assert got["login"].status == "fail"
    assert "secret" in got["login"].fix
    closed = PbxSettings(host="127.0.0.1", port=free_port(), username="weak")
    assert by_check(await check_pbx("main", closed))["reachable"].status == "fail"


@pytest.fixture
def aof_redis(tmp_path: Path) -> Iterator[str]:
    """A redis-server of our own with AOF on (the session's has no persistence)."""
    binary = shutil.which("redis-server")
    assert binary is not None
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
         "yes", "--dir", str(tmp_path), "--maxmemory-policy", "noeviction"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"redis://127.0.0.1:{port}/0"
        wait_for_ping(url)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


async def test_redis_without_persistence_fails_and_with_aof_passes(
    redis_url: str, aof_redis: str
) -> None:
    bare = by_check(await check_redis(redis_url))
    assert bare["persistence"].status == "fail"
    assert "appendonly yes" in bare["persistence"].fix
    good = await check_redis(aof_redis)
    assert [f for f in good if f.status != "ok"] == [], good
    down = by_check(await check_redis(f"redis://127.0.0.1:{free_port()}/0"))
    assert down["reachable"].status == "fail"


@pytest.fixture
async def megaplan() -> AsyncIterator[FakeMegaplan]:
    async with FakeMegaplan() as fake:
        yield fake


def crm(fake: FakeMegaplan, redis_url: str, prefix: str, password: str,
        extensions: dict[str, str]) -> CrmSyncSettings:  # fmt: skip
    return CrmSyncSettings(
        redis_url=redis_url, key_prefix=prefix, adapter="megaplan",
        megaplan=MegaplanSyncSettings(base_url=fake.url, username=fake.username,
                                      password=Secret(password), extensions=extensions),
    )  # fmt: skip


async def test_a_broken_crm_credential_and_an_empty_extension_map_fail(
    megaplan: FakeMegaplan, redis_url: str, redis_prefix: str
) -> None:
    eid = megaplan.add_employee("Anna")
    broken = await check_crm(crm(megaplan, redis_url, redis_prefix, "wrong", {eid: "100"}))
    assert [(f.check, f.status) for f in broken] == [("credentials", "fail")]
    assert "megaplan" in broken[0].fix
    assert "wrong" not in broken[0].detail
    unmapped = by_check(await check_crm(crm(megaplan, redis_url, redis_prefix,
                                            megaplan.password, {})))  # fmt: skip
    assert unmapped["credentials"].status == "ok"
    assert unmapped["user↔extension"].status == "fail"
    good = await check_crm(crm(megaplan, redis_url, redis_prefix + "g:", megaplan.password,
                               {eid: "100"}))  # fmt: skip
    assert [f.status for f in good] == ["ok", "ok"]
    # crm-sync's circuit breaker opened earlier (credentials refused then): the doctor says
    # the credentials work now and how to resume.
    redis = connect(redis_url)
    try:
        await redis.set(AuthKeys(redis_prefix + "g:", "megaplan").dead, "HTTP 400")
        resumed = by_check(await check_crm(crm(megaplan, redis_url, redis_prefix + "g:",
                                               megaplan.password, {eid: "100"})))  # fmt: skip
    finally:
        await redis.delete(AuthKeys(redis_prefix + "g:", "megaplan").dead)
        await redis.aclose()
    assert resumed["credentials"].status == "ok"
    assert resumed["circuit"].status == "fail"
    assert "callbridge crm-sync auth megaplan" in resumed["circuit"].fix


async def test_the_command_prints_a_table_and_exits_1_on_the_weak_setup(
    lab: Lab, megaplan: FakeMegaplan, redis_url: str, redis_prefix: str, aof_redis: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    eid = megaplan.add_employee("Anna")

    def config(user: str, password: str, redis: str) -> Path:
        path = tmp_path / f"{user}.toml"
        path.write_text(
            f'redis_url = "{redis}"\nkey_prefix = "{redis_prefix}"\n'
            f'[ingest.pbx.main]\nhost = "127.0.0.1"\nport = {lab.ast.ami_port}\n'
            f'username = "{user}"\nsecret = "{SECRET}"\n'
            f'[crm_sync]\nadapter = "megaplan"\n[crm_sync.megaplan]\nbase_url = "{megaplan.url}"\n'
            f'username = "{megaplan.username}"\npassword = "{password}"\n'
            f'extensions = {{ "{eid}" = "100" }}\n'
        )
        return path

    runner = CliRunner()
    weak = await asyncio.to_thread(
        runner.invoke, cli, ["doctor", "--config", str(config("weak", "bad", redis_url))]
    )
    assert weak.exit_code == 1, weak.output
    assert re.search(r"pbx main\s+events dialplan\s+FAIL", weak.output)
    assert re.search(r"crm megaplan\s+credentials\s+FAIL", weak.output)
    assert re.search(r"redis\s+persistence\s+FAIL", weak.output)
    assert "fix: add dialplan to read" in weak.output
    assert "bad" not in weak.output.replace("badly", "")
    good_cfg = config("callbridge", megaplan.password, aof_redis)
    good = await asyncio.to_thread(runner.invoke, cli, ["doctor", "--config", str(good_cfg)])
    assert good.exit_code == 0, good.output
    assert "0 failed" in good.output


async def test_the_gateway_public_url_is_checked_on_a_real_gateway(
    redis_url: str, redis_prefix: str
) -> None:
    settings = settings_for(redis_url, redis_prefix)
    async with serving(create_app(settings)) as url:
        ok = await check_gateway(replace(settings, public_url=url))
    assert [(f.check, f.status) for f in ok] == [("public URL", "ok")]
    gone = await check_gateway(replace(settings, public_url=url))  # stopped now
    assert gone[0].status == "fail"
    assert "public_url" in gone[0].fix


# -- the documented user gives the tracker the same calls as read = all ------------------------


async def _record(lab: Lab, user: str, frames: list[tuple[int, bytes]]) -> AMIClient:
    client = AMIClient(AMIConfig(port=lab.ast.ami_port, username=user, secret=SECRET,
                                 snapshot_action=None))  # fmt: skip
    await client.start()

    async def collect() -> None:
        async for batch in client.raw_batches():
            if isinstance(batch, FrameBatch):
                frames.extend((batch.rx_us, f) for f in batch.frames)

    asyncio.get_running_loop().create_task(collect())
    return client


async def _idle(client: AMIClient) -> None:
    """Until the PBX has no channel left (the next call starts on a quiet PBX)."""
    async with asyncio.timeout(10):
        while len((await client.send_list_action("CoreShowChannels")).events) > 1:  # noqa: ASYNC110
            await asyncio.sleep(0.1)


def _ended(frames: list[tuple[int, bytes]]) -> dict[str, CallEnded]:
    entries = [RawEntry(f"{i + 1}-0", raw, rx) for i, (rx, raw) in enumerate(frames)]
    events = replay(entries, Topology(pbx="lab"))
    return {e.call_id: e for e in events if isinstance(e, CallEnded)}


async def test_the_documented_filters_keep_every_call_the_same_as_read_all(lab: Lab) -> None:
    recorded: dict[str, list[tuple[int, bytes]]] = {"full": [], "callbridge": [], "weak": []}
    clients = [await _record(lab, user, frames) for user, frames in recorded.items()]
    a, b = lab.phone("A"), lab.phone("B")
    await asyncio.gather(a.register(), b.register())
    try:
        # a ring group: A and B ring, B answers (recorded)
        ring_a = await a.ring()
        uas = await b.answer(ring=0.5, then=[Talk(0.5), Hangup()])
        uac = await lab.trunk.call("79161230102", DIDS["group"])
        await asyncio.gather(uas.done(30), uac.done(30), ring_a.done(30))
        await _idle(clients[0])
        # inbound, answered, recorded (MixMonitor)
        uas = await a.answer(ring=0.5, then=[Talk(0.5), Hangup()])
        uac = await lab.trunk.call("79161230101", DIDS["direct"])
        await asyncio.gather(uas.done(30), uac.done(30))
        await _idle(clients[0])
        # B answers a recorded call and transfers it blind to A, who answers
        uas_a = await a.answer(ring=0.5, then=[Talk(0.5), Hangup()])
        uas_b = await b.answer(ring=0.3, then=[Talk(0.3), Refer(lab.ext("A"))])
        uac = await lab.trunk.call("79161230103", DIDS["direct_b"])
        await asyncio.gather(uas_a.done(30), uac.done(30))
        uas_b.kill()  # its leg is gone (the PBX's BYE after the REFER is not what we test)
        async with asyncio.timeout(15):  # every call's last Hangup seen by every user
            while any(len(_ended(f)) < 3 for f in recorded.values()):  # noqa: ASYNC110
                await asyncio.sleep(0.2)
    finally:
        for client in clients:
            await client.close()
    full, doc, weak = (_ended(recorded[u]) for u in ("full", "callbridge", "weak"))
    assert len(full) == 3
    assert full.keys() == doc.keys()
    fields = ("direction", "caller", "called", "result", "outcome", "answered_by",
              "recording_file", "hangup_by", "extension")  # fmt: skip
    for call_id, want in full.items():
        got = doc[call_id]
        for name in fields:
            assert getattr(got, name) == getattr(want, name), (call_id, name)
        assert sorted(got.rang) == sorted(want.rang)
        assert abs(got.talk_seconds - want.talk_seconds) <= 1
    assert sum(bool(c.recording_file) for c in full.values()) >= 2
    assert len(recorded["callbridge"]) < len(recorded["full"]) / 2  # the filters cut noise
    # the usual restricted user loses every recording (the issue's complaint)
    assert not any(c.recording_file for c in weak.values())


async def test_tls_is_checked_against_the_pbxs_certificate(lab: Lab, tmp_path: Path) -> None:
    port = int(lab.ast.ports["AMI_TLS_PORT"])
    good = replace(
        pbx(lab, "callbridge"),
        port=port,
        tls=True,
        tls_ca=str(Path(lab.ast.ports["CERT"]).with_name("ca.pem")),
    )
    found = by_check(await check_pbx("main", good))
    assert found["tls"].status == "ok"
    assert found["login"].status == "ok"
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    untrusted = by_check(await check_pbx("main", replace(good, tls_ca=str(other))))
    assert untrusted["tls"].status == "fail"
    assert "tls_ca" in untrusted["tls"].fix


# -- config and output, without any server -------------------------------------------------------

EXAMPLES = Path(__file__).resolve().parents[3] / "deploy" / "config"


def test_the_suite_example_and_a_single_service_file_give_their_parts() -> None:
    suite = load_targets(EXAMPLES / "callbridge.example.toml", environ={})
    assert suite.redis_urls == ["redis://127.0.0.1:6379/0"]
    assert set(suite.pbx) == {"main"}
    assert suite.crm is not None
    assert suite.crm.adapter == "builtin"
    assert suite.gateway is not None
    ingest = load_targets(EXAMPLES / "ingest.example.toml", environ={})
    assert ingest.pbx
    assert ingest.crm is None
    assert ingest.gateway is None


def test_manager_show_user_output_is_read_and_missing_classes_named() -> None:
    out = "  username: cb\n  read perm: system,call,agent\n write perm: call,command\n"
    assert parse_manager_user(out) == ({"system", "call", "agent"}, {"call", "command"})
    assert parse_manager_user("No such user") is None
    table = render([Finding("pbx main", "read dialplan", "fail", "read = lacks dialplan",
                            "add dialplan to read =")])  # fmt: skip
    assert "FAIL" in table
    assert "fix: add dialplan to read =" in table


async def test_the_builtin_crm_is_read_and_a_missing_database_only_warns(
    redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    path = tmp_path / "crm.sqlite3"
    settings = CrmSyncSettings(redis_url=redis_url, key_prefix=redis_prefix, adapter="builtin",
                               builtin=BuiltinSettings(path=str(path), seed=True))  # fmt: skip
    missing = await check_crm(settings)
    assert [(f.check, f.status) for f in missing] == [("database", "warn")]
    assert not path.exists()  # the doctor created nothing
    crm_db = await BuiltinCrm.open(str(path), seed=True)
    await crm_db.aclose()
    found = by_check(await check_crm(settings))
    assert found["credentials"].status == "ok"
    assert found["user↔extension"].status == "ok"


def test_the_documented_eventfilters_name_every_event_and_application_the_reducer_reads() -> None:
    user = documented_user()
    names = re.search(r"eventfilter = Event: \(([^)]*)\)", user)
    apps = re.search(r"Event: Newexten.*Application: \(([^)]*)\)", user)
    varset = re.search(r"Event: VarSet.*Variable: \(([^)]*)\)", user)
    assert names is not None
    assert apps is not None
    assert varset is not None
    wanted = {e.decode() for e in _HANDLERS} - {"Newexten", "VarSet"}
    assert wanted <= set(names.group(1).split("|")), wanted - set(names.group(1).split("|"))
    assert set(APPS) - {"fastagi"} <= {a.lower() for a in apps.group(1).split("|")}
    assert "MIXMONITOR_FILENAME" in varset.group(1).split("|")


async def test_a_remote_crm_is_not_checked_while_its_redis_is_down() -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    settings = CrmSyncSettings(redis_url=dead, adapter="megaplan")
    found = await run_checks(Targets(redis_urls=[dead], crm=settings))
    assert [(f.part, f.check, f.status) for f in found] == [
        ("redis", "reachable", "fail"),
        ("crm megaplan", "credentials", "warn"),
    ]


def test_a_config_without_a_pbx_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "suite.toml"
    path.write_text('redis_url = "redis://127.0.0.1:1/0"\n[ingest]\n')
    result = CliRunner().invoke(cli, ["doctor", "--config", str(path)])
    assert result.exit_code == 1
    assert "no PBX configured" in result.output
