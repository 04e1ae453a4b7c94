"""detente's intel hub driven by real TAXII 2.1 and STIX 2.1 clients (run by intel_python.rs).

    python interop.py SCENARIO CONFIG.json

CONFIG names the hub (`url`, the server's base URL ending in `/`), the members' tokens
(`members`: name -> token) and the collections' ids (`collections`: key -> id), and for the
`corpus` scenario the directory of real STIX data (`stix_dir`). Scenarios:

- `endpoints`: taxii2-client's Server, ApiRoot, Collection and Status through every TAXII
  endpoint (discovery, API root, collections, collection, add objects and status, objects
  with paging and every filter, object, manifest, versions, delete), then the error codes a
  client sees (401, 403, 404, 406, 415, 400) over plain HTTP.
- `stix2`: objects made with the stix2 library, pushed and read back through stix2's own
  TAXII data store, TLP audiences checked member by member, everything validated.
- `corpus`: MITRE ATT&CK for ICS (1,826 objects) and the OASIS examples pushed and pulled
  back unchanged, every object the hub returns validated by stix2-validator.

Every check that fails raises; the last line printed is a JSON summary that the Rust side
reads and checks again.
"""

import copy
import datetime
import json
import os
import sys
import time

import requests
import stix2
import stix2validator
from stix2.datastore.filters import Filter
from stix2.datastore.taxii import TAXIICollectionSink, TAXIICollectionSource
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

TAXII = "application/taxii+json;version=2.1"
STIX = "application/stix+json;version=2.1"
MAX_CONTENT_LENGTH = 10 * 1024 * 1024

TLP_AMBER_STRICT = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def eq(got, want, what):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


def step(msg):
    print(f"ok: {msg}", flush=True)


def http_status(fn, *args, **kwargs):
    """The HTTP status code `fn` fails with (taxii2-client raises requests' HTTPError)."""
    try:
        fn(*args, **kwargs)
    except requests.HTTPError as e:
        return e.response.status_code
    raise AssertionError(f"{getattr(fn, '__name__', fn)} did not fail")


def objects_of(envelope):
    return envelope.get("objects", [])


def validate_all(objects):
    """Validates every object with stix2-validator (STIX 2.1, strict on errors); returns
    the number validated. A warning (a SHOULD) is allowed, an error is not."""
    opts = stix2validator.ValidationOptions(version="2.1")
    for o in objects:
        r = stix2validator.validate_instance(o, opts)
        if not r.is_valid:
            raise AssertionError(
                f"stix2-validator rejects {o.get('id')}: {[str(e) for e in r.errors]}"
            )
    return len(objects)


def validator_works():
    """stix2-validator must have its schemas: a valid object passes, a broken one fails."""
    good = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": "indicator--a932fcc6-e032-476c-826f-cb970a5a1ade",
        "created": "2014-02-20T09:16:08.989Z",
        "modified": "2014-02-20T09:16:08.989Z",
        "name": "File hash for Poison Ivy variant",
        "pattern": "[file:hashes.'SHA-256' = 'ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c']",
        "pattern_type": "stix",
        "valid_from": "2014-02-20T09:00:00Z",
    }
    opts = stix2validator.ValidationOptions(version="2.1")
    check(stix2validator.validate_instance(good, opts).is_valid, "validator rejects a valid indicator")
    for broken in (
        {k: v for k, v in good.items() if k != "pattern"},
        dict(good, pattern="[file:name = "),
        dict(good, created="yesterday"),
    ):
        check(
            not stix2validator.validate_instance(broken, opts).is_valid,
            f"validator accepts a broken indicator: {broken}",
        )


class Hub:
    def __init__(self, cfg):
        self.cfg = cfg
        self.base = cfg["url"]
        self.api = self.base + "api/"
        self.tokens = cfg["members"]
        self.colls = cfg["collections"]

    def token(self, who):
        return self.tokens[who]

    def server(self, who=None):
        if who is None:
            return Server(self.base + "taxii2/")
        return Server(self.base + "taxii2/", user=who, password=self.token(who))

    def root(self, who=None):
        if who is None:
            return ApiRoot(self.api)
        return ApiRoot(self.api, user=who, password=self.token(who))

    def coll_url(self, key):
        return f"{self.api}collections/{self.colls[key]}/"

    def coll(self, key, who):
        return Collection(self.coll_url(key), user=who, password=self.token(who))

    def raw(self, method, path, who=None, bearer=False, headers=None, **kw):
        """A plain HTTP request to the API root (path relative to it)."""
        h = {"Accept": TAXII}
        if headers:
            h.update(headers)
        auth = None
        if who is not None and bearer:
            h["Authorization"] = "Bearer " + self.token(who)
        elif who is not None:
            auth = (who, self.token(who))
        return requests.request(method, self.api + path, headers=h, auth=auth, timeout=60, **kw)


def indicator(i, modified="2024-01-01T00:00:00.000Z", created="2024-01-01T00:00:00.000Z", **extra):
    o = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": "indicator--00000000-0000-4000-8000-%012d" % i,
        "created": created,
        "modified": modified,
        "name": f"indicator {i}",
        "pattern": "[ipv4-addr:value = '198.51.100.%d']" % (i % 256),
        "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z",
    }
    o.update(extra)
    return o


def malware(i):
    return {
        "type": "malware",
        "spec_version": "2.1",
        "id": "malware--00000000-0000-4000-9000-%012d" % i,
        "created": "2024-01-01T00:00:00.000Z",
        "modified": "2024-01-01T00:00:00.000Z",
        "name": f"malware {i}",
        "is_family": True,
    }


IDENTITY = {
    "type": "identity",
    "spec_version": "2.1",
    "id": "identity--00000000-0000-4000-a000-000000000001",
    "created": "2024-01-01T00:00:00.000Z",
    "modified": "2024-01-01T00:00:00.000Z",
    "name": "ACME CERT",
    "identity_class": "organization",
}


# ---------------------------------------------------------------------------------------
# endpoints


def scenario_endpoints(hub):
    summary = {}

    # Discovery.
    s = hub.server("alice")
    eq(s.title, "detente intel hub", "discovery title")
    eq(len(s.api_roots), 1, "api roots")
    check(s.default is s.api_roots[0], "default is the one API root")
    eq(s.api_roots[0].url, hub.api, "API root URL")
    eq(hub.server().title, s.title, "discovery without credentials")
    step("discovery")

    # API root.
    root = s.api_roots[0]
    eq(root.versions, [TAXII], "API root versions")
    eq(root.max_content_length, MAX_CONTENT_LENGTH, "max_content_length")
    eq(root.title, "detente intel hub", "API root title")
    step("api root")

    # Collections, as each member sees them.
    def seen(r):
        return {c.id: (c.title, c.can_read, c.can_write) for c in r.collections}

    ids = hub.colls
    eq(
        seen(root),
        {
            ids["evidence"]: ("Evidence", True, True),
            ids["public"]: ("Public", True, True),
            ids["acme"]: ("ACME only", True, True),
        },
        "alice's collections",
    )
    eq(
        seen(hub.root("bob")),
        {ids["evidence"]: ("Evidence", True, True), ids["public"]: ("Public", True, False)},
        "bob's collections",
    )
    eq(seen(hub.root()), {ids["public"]: ("Public", True, False)}, "anonymous collections")
    for c in root.collections:
        eq(c.media_types, [STIX], f"media_types of {c.title}")
    step("collections")

    # One collection.
    col = hub.coll("evidence", "alice")
    eq((col.id, col.title, col.can_read, col.can_write), (ids["evidence"], "Evidence", True, True), "collection")
    eq(http_status(Collection(hub.coll_url("acme"), user="bob", password=hub.token("bob")).refresh), 404, "bob reads acme's collection")
    step("collection")

    # Add objects -> status.
    inds = [indicator(i) for i in range(250)]
    mals = [malware(i) for i in range(5)]
    bad = {"type": "indicator", "spec_version": "2.1", "id": "indicator--not-a-uuid"}
    env = {"objects": inds + mals + [IDENTITY, bad]}
    valid_ids = [o["id"] for o in inds + mals + [IDENTITY]]
    st = col.add_objects(env)
    eq(st.status, "complete", "status")
    eq((st.total_count, st.success_count, st.failure_count, st.pending_count), (257, 256, 1, 0), "status counts")
    eq([f["id"] for f in st.failures], ["indicator--not-a-uuid"], "failed ids")
    check("invalid STIX 2.1" in st.failures[0]["message"], f"failure message {st.failures[0]}")
    eq(sorted(x["id"] for x in st.successes), sorted(valid_ids), "succeeded ids")
    for x in st.successes:
        eq(x["version"], "2024-01-01T00:00:00.000Z", f"version of {x['id']}")
        check(x["message"].startswith("logged at index "), f"success message {x}")
    check(st.request_timestamp and st.request_timestamp.endswith("Z"), "request_timestamp")
    again = root.get_status(st.id)
    eq(again._raw, st._raw, "status read back")
    eq(http_status(hub.root("bob").get_status, st.id), 404, "bob reads alice's status")
    eq(http_status(root.get_status, "00000000-0000-4000-8000-000000000000"), 404, "unknown status")
    step("add objects, status")

    # The same envelope again: nothing new, every valid object already present.
    st2 = col.add_objects(env)
    eq((st2.total_count, st2.success_count, st2.failure_count), (257, 256, 1), "status counts again")
    check(all(x["message"] == "already present" for x in st2.successes), "already present")
    check(st2.id != st.id, "a new status id")
    # A different object under a taken id and version is refused.
    forged = indicator(0, pattern="[ipv4-addr:value = '203.0.113.66']")
    st3 = col.add_objects({"objects": [forged]})
    eq((st3.success_count, st3.failure_count), (0, 1), "taken id and version")
    step("idempotent add, taken version refused")

    # New versions: three indicators get a second version, one a third.
    v1, v2, v3 = "2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"
    newer = [indicator(i, modified=v2, name=f"indicator {i} v2") for i in range(3)]
    newer.append(indicator(0, modified=v3, name="indicator 0 v3"))
    st4 = col.add_objects({"objects": newer})
    eq((st4.success_count, st4.failure_count), (4, 0), "new versions")
    oid = inds[0]["id"]
    eq(col.object_versions(oid)["versions"], [v1, v2, v3], "versions of indicator 0")
    eq(col.object_versions(inds[1]["id"])["versions"], [v1, v2], "versions of indicator 1")
    eq(col.object_versions(inds[9]["id"])["versions"], [v1], "versions of indicator 9")
    eq(http_status(col.object_versions, "indicator--00000000-0000-4000-8000-999999999999"), 404, "versions of an unknown object")
    step("object versions")

    # Get an object.
    latest = objects_of(col.get_object(oid))
    eq([(o["id"], o["modified"]) for o in latest], [(oid, v3)], "object 0, latest")
    eq(latest[0], newer[3], "object 0 as posted")
    eq([o["modified"] for o in objects_of(col.get_object(oid, version="first"))], [v1], "object 0, first")
    eq([o["modified"] for o in objects_of(col.get_object(oid, version=v2))], [v2], "object 0 at v2")
    eq(sorted(o["modified"] for o in objects_of(col.get_object(oid, version="all"))), [v1, v2, v3], "object 0, all")
    eq(sorted(o["modified"] for o in objects_of(col.get_object(oid, version=["first", "last"]))), [v1, v3], "object 0, first and last")
    eq(http_status(col.get_object, "indicator--00000000-0000-4000-8000-999999999999"), 404, "unknown object")
    step("get object")

    # Get objects, paged with as_pages.
    pages = list(as_pages(col.get_objects, per_request=100))
    eq([len(objects_of(p)) for p in pages], [100, 100, 56], "page sizes")
    eq([p.get("more") for p in pages], [True, True, False], "more flags")
    check(all(p.get("next") for p in pages[:-1]) and "next" not in pages[-1], "next on every page but the last")
    got = [o for p in pages for o in objects_of(p)]
    eq(len({o["id"] for o in got}), 256, "distinct objects over all pages")
    eq(sorted(o["id"] for o in got), sorted(valid_ids), "objects over all pages")
    eq({o["id"]: o["modified"] for o in got if o["id"] in {x["id"] for x in newer}},
       {inds[0]["id"]: v3, inds[1]["id"]: v2, inds[2]["id"]: v2}, "latest versions served")
    # A page larger than the hub's limit is cut to its limit (1000): all at once here.
    eq(len(objects_of(col.get_objects(limit=5000))), 256, "limit above the maximum")
    # An odd page size, through to the end.
    odd = list(as_pages(col.get_objects, per_request=7, type="indicator"))
    eq(sum(len(objects_of(p)) for p in odd), 250, "indicators in pages of 7")
    eq(len(odd), 36, "pages of 7")
    step("get objects, as_pages")

    # match[version].
    eq(len(objects_of(col.get_objects(version="all", limit=1000))), 260, "all versions")
    first = objects_of(col.get_objects(version="first", limit=1000))
    eq((len(first), {o["modified"] for o in first}), (256, {v1}), "first versions")
    eq(len(objects_of(col.get_objects(version=v2))), 3, "versions at v2")
    eq(len(objects_of(col.get_objects(version=[v2, v3]))), 4, "versions at v2 or v3")
    step("match[version]")

    # match[type], match[id], match[spec_version].
    m = objects_of(col.get_objects(type="malware"))
    eq(sorted(o["id"] for o in m), sorted(o["id"] for o in mals), "match[type]=malware")
    eq(len(objects_of(col.get_objects(type=["malware", "identity"]))), 6, "match[type]=malware,identity")
    eq(objects_of(col.get_objects(type="campaign")), [], "match[type]=campaign")
    two = [inds[5]["id"], mals[2]["id"]]
    eq(sorted(o["id"] for o in objects_of(col.get_objects(id=two))), sorted(two), "match[id]")
    eq(objects_of(col.get_objects(id=two, type="malware")), [mals[2]], "match[id] and match[type]")
    eq(len(objects_of(col.get_objects(spec_version="2.1"))), 100, "match[spec_version]=2.1")
    eq(objects_of(col.get_objects(spec_version="2.0")), [], "match[spec_version]=2.0")
    step("match[type], match[id], match[spec_version]")

    # Manifest, paged; date_added strictly increasing.
    mpages = list(as_pages(col.get_manifest, per_request=100))
    eq([len(objects_of(p)) for p in mpages], [100, 100, 56], "manifest page sizes")
    manifest = [e for p in mpages for e in objects_of(p)]
    for e in manifest:
        eq(sorted(e), ["date_added", "id", "media_type", "version"], "manifest entry fields")
        eq(e["media_type"], STIX, "manifest media_type")
    eq({e["id"]: e["version"] for e in manifest}, {o["id"]: o["modified"] for o in got}, "manifest versions")
    added = [e["date_added"] for e in manifest]
    check(all(a < b for a, b in zip(added, added[1:])), "date_added increases")
    eq(len(objects_of(col.get_manifest(version="all", limit=1000))), 260, "manifest of all versions")
    step("manifest")

    # added_after (exclusive), alone, with match[type] and paged.
    cut = manifest[99]["date_added"]
    after = [e["id"] for e in manifest[100:]]
    eq([o["id"] for o in objects_of(col.get_objects(added_after=cut, limit=1000))], after, "added_after")
    eq(
        [o["id"] for o in objects_of(col.get_objects(added_after=cut, type="malware", limit=1000))],
        [e["id"] for e in manifest[100:] if e["id"].startswith("malware--")],
        "added_after and match[type]",
    )
    pa = list(as_pages(col.get_objects, per_request=50, added_after=cut))
    eq([o["id"] for p in pa for o in objects_of(p)], after, "added_after, paged")
    eq(objects_of(col.get_objects(added_after=manifest[-1]["date_added"])), [], "added_after the last")
    # The page's X-TAXII-Date-Added-First/Last headers.
    r = hub.raw("GET", f"collections/{ids['evidence']}/objects/?limit=10", "alice")
    eq((r.headers.get("X-TAXII-Date-Added-First"), r.headers.get("X-TAXII-Date-Added-Last")),
       (added[0], added[9]), "X-TAXII-Date-Added headers")
    step("added_after")

    # Delete: another organisation may not; the submitter's deletes one version, then all.
    bcol = hub.coll("evidence", "bob")
    eq(http_status(bcol.delete_object, oid), 403, "bob deletes acme's object")
    col.delete_object(oid, version=v2)
    eq(col.object_versions(oid)["versions"], [v1, v3], "versions after deleting v2")
    col.delete_object(oid)
    eq(http_status(col.get_object, oid), 404, "deleted object")
    eq(http_status(col.object_versions, oid), 404, "versions of a deleted object")
    eq(http_status(col.delete_object, oid), 404, "delete again")
    eq(len(objects_of(col.get_objects(limit=1000))), 255, "objects after delete")
    step("delete object")

    # What a client sees over plain HTTP.
    objs = f"collections/{ids['evidence']}/objects/"
    r = hub.raw("GET", objs)
    eq(r.status_code, 401, "no credentials")
    check("Basic" in r.headers.get("WWW-Authenticate", ""), "WWW-Authenticate")
    eq(r.headers.get("Content-Type"), TAXII, "error Content-Type")
    err = r.json()
    eq((err.get("http_status"), err.get("title")), ("401", "Unauthorized"), "error resource")
    eq(requests.get(hub.api + objs, auth=("alice", "dtk_wrong"), headers={"Accept": TAXII}).status_code, 401, "wrong token")
    eq(requests.get(hub.api + objs, auth=("bob", hub.token("alice")), headers={"Accept": TAXII}).status_code, 401, "alice's token as bob")
    r = hub.raw("GET", objs + "?limit=3", "alice", bearer=True)
    eq((r.status_code, len(r.json()["objects"])), (200, 3), "Bearer")
    eq(r.headers.get("Content-Type"), TAXII, "reply Content-Type")
    eq(hub.raw("GET", objs, "alice", headers={"Accept": "application/json"}).status_code, 406, "Accept: application/json")
    eq(hub.raw("GET", objs, "alice", headers={"Accept": "application/taxii+json;version=2.0"}).status_code, 406, "Accept: TAXII 2.0")
    eq(hub.raw("GET", objs, "alice", headers={"Accept": "application/taxii+json"}).status_code, 200, "Accept without version")
    eq(hub.raw("POST", objs, "alice", headers={"Content-Type": "application/json"}, data=json.dumps({"objects": [malware(9)]})).status_code, 415, "POST application/json")
    eq(hub.raw("POST", objs, "alice", headers={"Content-Type": TAXII}, data=b"{not json").status_code, 400, "POST broken JSON")
    eq(hub.raw("POST", objs, "alice", headers={"Content-Type": TAXII}, data=b'{"objects": 1}').status_code, 400, "POST objects not a list")
    eq(hub.raw("POST", f"collections/{ids['public']}/objects/", "bob", headers={"Content-Type": TAXII}, data=json.dumps({"objects": [malware(9)]})).status_code, 403, "bob writes to Public")
    eq(hub.raw("GET", f"collections/{ids['acme']}/objects/", "bob").status_code, 404, "bob reads acme's objects")
    eq(hub.raw("GET", "collections/00000000-0000-4000-8000-000000000000/objects/", "alice").status_code, 404, "unknown collection")
    eq(hub.raw("GET", objs + "?limit=0", "alice").status_code, 400, "limit=0")
    eq(hub.raw("GET", objs + "?added_after=yesterday", "alice").status_code, 400, "added_after=yesterday")
    eq(hub.raw("GET", objs + "?next=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "alice").status_code, 400, "forged next")
    nxt = pages[0]["next"]
    eq(hub.raw("GET", objs + f"?limit=100&next={nxt}", "bob").status_code, 400, "alice's next used by bob")
    eq(hub.raw("GET", objs + f"?limit=100&type=indicator&next={nxt}", "alice").status_code, 200, "unknown parameter ignored")
    eq(hub.raw("GET", objs + f"?limit=100&match[type]=indicator&next={nxt}", "alice").status_code, 400, "next with other filters")
    eq(hub.raw("PUT", objs, "alice", headers={"Content-Type": TAXII}, data=b"{}").status_code, 405, "PUT")
    big = b'{"objects": [' + b" " * (MAX_CONTENT_LENGTH + 1) + b"]}"
    eq(hub.raw("POST", objs, "alice", headers={"Content-Type": TAXII}, data=big).status_code, 413, "over max_content_length")
    step("HTTP errors")

    # The public collection: CLEAR objects anyone may read.
    pub = hub.coll("public", "alice")
    stp = pub.add_objects({"objects": [malware(100), malware(101)]})
    eq(stp.success_count, 2, "posted to Public")
    anon = Collection(hub.coll_url("public"))
    eq(sorted(o["id"] for o in objects_of(anon.get_objects())), sorted([malware(100)["id"], malware(101)["id"]]), "anonymous read of Public")
    check(not anon.can_write, "anonymous can_write")
    r = hub.raw("POST", f"collections/{ids['public']}/objects/", headers={"Content-Type": TAXII}, data=json.dumps({"objects": [malware(102)]}))
    eq(r.status_code, 401, "anonymous write")
    step("anonymous reads")

    summary.update(
        objects=len(objects_of(col.get_objects(limit=1000))),
        versions_all=len(objects_of(col.get_objects(version="all", limit=1000))),
        pages=[len(objects_of(p)) for p in pages],
        validated=validate_all(objects_of(col.get_objects(version="all", limit=1000))),
    )
    return summary


# ---------------------------------------------------------------------------------------
# stix2


def scenario_stix2(hub):
    validator_works()
    step("stix2-validator has its schemas")

    acme = stix2.Identity(name="ACME CERT", identity_class="organization")
    mal = stix2.Malware(name="Poison Ivy", is_family=True, malware_types=["remote-access-trojan"],
                        created_by_ref=acme, object_marking_refs=[stix2.TLP_GREEN])
    ind = stix2.Indicator(
        name="Poison Ivy C2",
        pattern="[ipv4-addr:value = '198.51.100.7'] OR [domain-name:value = 'c2.example.com']",
        pattern_type="stix",
        indicator_types=["malicious-activity"],
        created_by_ref=acme,
        object_marking_refs=[stix2.TLP_GREEN],
    )
    ind2 = ind.new_version(name="Poison Ivy C2 (confirmed)", confidence=80)
    rel = stix2.Relationship(ind, "indicates", mal)
    ap = stix2.AttackPattern(name="Spearphishing Attachment",
                             external_references=[{"source_name": "capec", "external_id": "CAPEC-163"}])
    ta = stix2.ThreatActor(name="Disco Team", threat_actor_types=["crime-syndicate"])
    ip = stix2.IPv4Address(value="198.51.100.7")
    f = stix2.File(name="invoice.pdf.exe", hashes={"SHA-256": "ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c"})
    od = stix2.ObservedData(first_observed="2024-05-01T10:00:00Z", last_observed="2024-05-01T10:05:00Z",
                            number_observed=3, object_refs=[ip, f])
    sig = stix2.Sighting(sighting_of_ref=ind, observed_data_refs=[od], count=3)
    coa = stix2.CourseOfAction(name="Block 198.51.100.7")
    vuln = stix2.Vulnerability(name="CVE-2024-0001",
                               external_references=[{"source_name": "cve", "external_id": "CVE-2024-0001"}])
    loc = stix2.Location(country="DE", region="europe")
    note = stix2.Note(content="Seen at two sites.", object_refs=[ind])
    stmt = stix2.MarkingDefinition(definition_type="statement",
                                   definition=stix2.StatementMarking("Copyright 2024 ACME"))
    report = stix2.Report(name="Poison Ivy at ACME", published="2024-05-02T00:00:00Z",
                          object_refs=[ind, mal, rel, od], object_marking_refs=[stix2.TLP_GREEN, stmt])
    # Audience checks: AMBER for acme, AMBER shared with group eu, AMBER+STRICT, RED.
    amber = stix2.Indicator(name="amber", pattern="[url:value = 'http://a.example/']", pattern_type="stix",
                            object_marking_refs=[stix2.TLP_AMBER])
    amber_eu = stix2.Indicator(name="amber to eu", pattern="[url:value = 'http://b.example/']", pattern_type="stix",
                               object_marking_refs=[stix2.TLP_AMBER],
                               custom_properties={"x_detente_recipients": ["group:eu"]})
    strict = stix2.Indicator(name="amber+strict", pattern="[url:value = 'http://c.example/']", pattern_type="stix",
                             object_marking_refs=[TLP_AMBER_STRICT],
                             custom_properties={"x_detente_recipients": ["org:beta"]}, allow_custom=True)
    red = stix2.Indicator(name="red", pattern="[url:value = 'http://d.example/']", pattern_type="stix",
                          object_marking_refs=[stix2.TLP_RED],
                          custom_properties={"x_detente_recipients": ["member:bob"]})
    markings = [stix2.TLP_GREEN, stix2.TLP_AMBER, stix2.TLP_RED]
    shared = [acme, mal, ind, ind2, rel, ap, ta, ip, f, od, sig, coa, vuln, loc, note, stmt, report]
    restricted = [amber, amber_eu, strict, red]
    everything = markings + shared + restricted
    as_dicts = {}
    for o in everything:
        d = json.loads(o.serialize())
        as_dicts.setdefault(o.id, []).append(d)

    # Push through stix2's TAXII data store (a Bundle, posted with taxii2-client).
    col = hub.coll("evidence", "alice")
    sink = TAXIICollectionSink(col, allow_custom=True)
    sink.add(stix2.Bundle(everything, allow_custom=True))
    step(f"pushed {len(everything)} stix2 objects with TAXIICollectionSink")

    src = TAXIICollectionSource(col, allow_custom=True)
    for o in shared + restricted:
        got = src.get(o.id)
        check(got is not None, f"alice gets {o.id}")
        latest = as_dicts[o.id][-1]
        eq(json.loads(got.serialize()), latest, f"{o.id} read back")
    eq([v.modified for v in sorted(src.all_versions(ind.id), key=lambda v: v.modified)],
       [ind.modified, ind2.modified], "all_versions of the indicator")
    eq(src.get(ind.id).name, "Poison Ivy C2 (confirmed)", "latest version")
    eq(sorted(x.id for x in src.query([Filter("type", "=", "malware")])), [mal.id], "query type=malware")
    eq(len(src.query([Filter("type", "=", "indicator")])), 5, "query type=indicator")
    eq([x.id for x in src.query([Filter("id", "=", rel.id)])], [rel.id], "query id")
    step("read back with TAXIICollectionSource")

    # Each member sees what the markings allow.
    def visible(who):
        c = TAXIICollectionSource(hub.coll("evidence", who), allow_custom=True, items_per_page=1000)
        return {o.id for o in c.query([Filter("type", "=", "indicator")])}

    public_inds = {ind.id}
    eq(visible("alice"), public_inds | {amber.id, amber_eu.id, strict.id, red.id}, "indicators alice sees")
    eq(visible("alan"), public_inds | {amber.id, amber_eu.id, strict.id}, "indicators alan (acme) sees")
    eq(visible("bob"), public_inds | {amber_eu.id, red.id}, "indicators bob (beta, eu) sees")
    eq(visible("carol"), public_inds, "indicators carol (gamma) sees")
    for who, oid, want in [("bob", amber.id, 404), ("carol", red.id, 404), ("alan", red.id, 404)]:
        eq(http_status(hub.coll("evidence", who).get_object, oid), want, f"{who} gets {oid}")
    step("TLP audiences")

    # The same bundle again adds nothing: every object, observables (no version of their
    # own) included, is already present.
    again = col.add_objects(stix2.Bundle(everything, allow_custom=True).serialize())
    eq((again.success_count, again.failure_count), (len(everything), 0), "the bundle again")
    eq(sorted({x["message"] for x in again.successes}), ["already present"], "the bundle again: messages")
    for sco in (ip, f):
        eq(len(col.object_versions(sco.id)["versions"]), 1, f"versions of {sco.id} sent twice")
    step("the same bundle again: already present")

    # Every version the hub holds, validated; equal to what stix2 serialised.
    allv = [o for p in as_pages(col.get_objects, per_request=10, version="all") for o in objects_of(p)]
    want = sorted((d["id"], d.get("modified", "")) for ds in as_dicts.values() for d in ds)
    eq(sorted((o["id"], o.get("modified", "")) for o in allv), want, "every version")
    for o in allv:
        stix2.parse(o, allow_custom=True)
        check(o in as_dicts[o["id"]], f"{o['id']} as serialised by stix2")
    n = validate_all(allv)
    step(f"{n} objects validated")
    return {"objects": len(allv), "validated": n}


# ---------------------------------------------------------------------------------------
# corpus


def envelopes(objects, max_objects=500, max_bytes=4 * 1024 * 1024):
    batch, size = [], 0
    for o in objects:
        n = len(json.dumps(o, ensure_ascii=False).encode())
        if batch and (len(batch) >= max_objects or size + n > max_bytes):
            yield {"objects": batch}
            batch, size = [], 0
        batch.append(o)
        size += n
    if batch:
        yield {"objects": batch}


def push_all(col, objects):
    done = 0
    for env in envelopes(objects):
        st = col.add_objects(env)
        eq((st.status, st.failure_count, st.pending_count), ("complete", 0, 0), f"status {st.failures[:3]}")
        eq(st.total_count, len(env["objects"]), "total_count")
        done += st.success_count
    return done


def pull_all(col, **filters):
    return [o for p in as_pages(col.get_objects, per_request=1000, **filters) for o in objects_of(p)]


def key(o):
    return (o["id"], o.get("modified", o.get("created", "")))


def scenario_corpus(hub):
    d = hub.cfg.get("stix_dir")
    if not d or not os.path.isdir(d):
        print(json.dumps({"skipped": f"{d} is missing"}))
        return None
    validator_works()
    summary = {}

    ics = json.load(open(os.path.join(d, "ics-attack-18.1.json"), encoding="utf-8"))
    objects = ics["objects"]
    eq(len(objects), 1826, "objects in ATT&CK for ICS")
    col = hub.coll("ics", "alice")
    t = time.monotonic()
    eq(push_all(col, objects), 1826, "ATT&CK for ICS accepted")
    step(f"pushed ATT&CK for ICS in {time.monotonic() - t:.1f} s")
    t = time.monotonic()
    back = pull_all(col)
    step(f"pulled {len(back)} objects in {time.monotonic() - t:.1f} s")
    eq(len(back), 1826, "objects pulled")
    orig = {key(o): o for o in objects}
    got = {key(o): o for o in back}
    eq(sorted(got), sorted(orig), "ids and versions pulled")
    diff = [k for k in orig if orig[k] != got[k]]
    eq(diff[:5], [], "objects changed on the way")
    # And as another member, and through the manifest.
    eq(sorted(key(o) for o in pull_all(hub.coll("ics", "bob"))), sorted(orig), "bob pulls the same")
    man = [e for p in as_pages(col.get_manifest, per_request=1000) for e in objects_of(p)]
    eq(sorted((e["id"], e["version"]) for e in man), sorted(orig), "manifest of ATT&CK for ICS")
    types = {}
    for o in objects:
        types[o["type"]] = types.get(o["type"], 0) + 1
    for ty, n in types.items():
        eq(len(pull_all(col, type=ty)), n, f"match[type]={ty}")
    t = time.monotonic()
    summary["ics_validated"] = validate_all(back)
    step(f"stix2-validator: {summary['ics_validated']} ATT&CK objects valid in {time.monotonic() - t:.1f} s")
    summary["ics"] = len(back)
    summary["ics_types"] = types

    # The OASIS examples, one collection for all (shared objects, such as TLP markings,
    # are sent more than once and are "already present" after the first).
    ocol = hub.coll("examples", "alice")
    want = {}
    for name in sorted(os.listdir(d)):
        if not name.endswith(".json") or name.startswith("ics-attack"):
            continue
        b = json.load(open(os.path.join(d, name), encoding="utf-8"))
        for o in b["objects"]:
            want[key(o)] = o
        for env in envelopes(b["objects"]):
            st = ocol.add_objects(env)
            eq(st.failure_count, 0, f"{name}: {st.failures[:3]}")
    back = pull_all(ocol, version="all")
    got = {key(o): o for o in back}
    eq(sorted(got), sorted(want), "OASIS examples pulled")
    eq([k for k in want if want[k] != got[k]][:5], [], "OASIS examples changed on the way")
    summary["examples"] = len(back)
    summary["examples_validated"] = validate_all(back)
    step(f"{len(back)} OASIS example objects round-trip and validate")
    return summary


SCENARIOS = {
    "endpoints": scenario_endpoints,
    "stix2": scenario_stix2,
    "corpus": scenario_corpus,
}


def main():
    scenario, cfg_path = sys.argv[1], sys.argv[2]
    with open(cfg_path, encoding="utf-8") as fh:
        cfg = json.load(fh)
    summary = SCENARIOS[scenario](Hub(cfg))
    if summary is not None:
        print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
