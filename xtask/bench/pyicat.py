#!/usr/bin/env python3
"""The python-icat 1.7.0 side of `cargo xtask bench` (run in the interop venv by the harness).

Usage: pyicat.py COMMAND ARGS...   (the harness measures wall time and peak memory of the process)

  prepare WSDL_URL                 log in as simple/root; print {"session", "datafile", "dataset",
                                   "visits"} (first datafile and dataset ids, number of visits)
  decode WSDL_URL FILE             suds unmarshals the searchResponse in FILE (no network for the
                                   answer: suds' __inject reply); print {"results", "secs": [s]}
  walk WSDL_URL CHUNK              every visit with its datasets and datafiles: one INCLUDE query,
                                   paged with searchChunked(chunksize=CHUNK); JSON to stdout
  seed WSDL_URL VISITS             the seed's queryICAT pattern (one query per attribute) for the
                                   first VISITS visits; JSON to stdout
  download IDS_URL SESSION KIND ID OUT
                                   IDSClient.getData of a datafile (KIND single) or a dataset
                                   (KIND dataset, a zip) streamed to OUT in 8 KiB blocks
  whoami WSDL_URL SESSION          start-up: create a Client, reuse SESSION, call getUserName
  visitinfo WSDL_URL SESSION       the first visit: {"investigation", "visit", "datasets": [{"id",
                                   "files", "bytes"}]} (not measured)
  visitzip WSDL_URL IDS_URL SESSION INV OUT TAPE
                                   facility bench: Client.getData of the visit's datasets as one
                                   zip to OUT; with TAPE=1 first prepareData and poll
                                   isDataPrepared every second, then getData(preparedId)
  perfile WSDL_URL IDS_URL SESSION DATASET OUTDIR TAPE
                                   facility bench: one Client.getData per datafile of the dataset,
                                   written to OUTDIR/dataset/file; with TAPE=1 first restoreData
                                   of the dataset and poll getStatus every second until ONLINE
  seeddl WSDL_URL IDS_URL SESSION DATASET OUTDIR
                                   facility bench, the seed's pattern: the dataset's datafile ids,
                                   then one query per attribute (name, size) and one getData per
                                   datafile (getData by session: the IDS restores on demand, so
                                   503 answers are retried every second)
"""

import json
import os
import shutil
import sys
import time

import icat
from icat.ids import DataSelection, IDSClient
from icat.query import Query

USER = {"username": "root", "password": "secret"}


def client(url):
    c = icat.Client(url)
    # The harness reuses sessions across runs: never log out at exit.
    c.autoLogout = False
    return c


def prepare(url):
    c = client(url)
    c.login("simple", USER)
    df = c.search("SELECT df.id FROM Datafile df ORDER BY df.id LIMIT 0, 1")
    ds = c.search("SELECT ds.id FROM Dataset ds ORDER BY ds.id LIMIT 0, 1")
    visits = c.search("SELECT COUNT(i) FROM Investigation i")
    print(json.dumps({"session": c.sessionId, "datafile": df[0], "dataset": ds[0],
                      "visits": visits[0]}))


def decode(url, path):
    c = client(url)
    with open(path, "rb") as f:
        data = f.read()
    started = time.perf_counter()
    result = c.service.search("unused-session", "unused-query", __inject={"reply": data})
    secs = time.perf_counter() - started
    print(json.dumps({"bytes": len(data), "results": len(result), "secs": [secs]}))


def visit_dict(inv):
    return {
        "visitId": inv.visitId, "name": inv.name, "title": inv.title,
        "startDate": str(inv.startDate) if inv.startDate else None,
        "datasets": [{
            "id": ds.id, "name": ds.name,
            "startDate": str(ds.startDate) if ds.startDate else None,
            "files": [{
                "id": df.id, "name": df.name, "size": df.fileSize,
                "createTime": str(df.createTime) if df.createTime else None,
            } for df in ds.datafiles],
        } for ds in inv.datasets],
    }


def walk(url, chunk):
    c = client(url)
    c.login("simple", USER)
    q = Query(c, "Investigation", order=["visitId", "name"], includes=["datasets.datafiles"])
    out = [visit_dict(inv) for inv in c.searchChunked(q, chunksize=int(chunk))]
    json.dump(out, sys.stdout)


def seed(url, visits):
    """queryICAT from the seed document, ported to python-icat: one search per attribute."""
    c = client(url)
    c.login("simple", USER)
    out = []
    for vid in c.search("SELECT i.visitId FROM Investigation i ORDER BY i.visitId")[:int(visits)]:
        v = {"visitId": vid}
        v["name"] = c.search("SELECT v.name FROM Investigation v WHERE v.visitId = '%s'" % vid)
        v["startDate"] = str(c.search(
            "SELECT v.startDate FROM Investigation v WHERE v.visitId = '%s'" % vid))
        v["datasets"] = []
        for did in c.search(
                "SELECT ds.id FROM Dataset ds WHERE ds.investigation.visitId = '%s'" % vid):
            d = {"id": did}
            d["name"] = c.search("SELECT ds.name FROM Dataset ds WHERE ds.id = %d" % did)
            d["startDate"] = str(c.search(
                "SELECT ds.startDate FROM Dataset ds WHERE ds.id = %d" % did))
            d["files"] = []
            for fid in c.search("SELECT df.id FROM Datafile df WHERE df.dataset.id = %d" % did):
                d["files"].append({
                    "id": fid,
                    "name": c.search("SELECT df.name FROM Datafile df WHERE df.id = %d" % fid),
                    "size": c.search(
                        "SELECT df.fileSize FROM Datafile df WHERE df.id = %d" % fid),
                    "createTime": str(c.search(
                        "SELECT df.createTime FROM Datafile df WHERE df.id = %d" % fid)),
                })
            v["datasets"].append(d)
        out.append(v)
    json.dump(out, sys.stdout)


def download(idsurl, session, kind, ident, out):
    ids = IDSClient(idsurl, sessionId=session)
    key = "datafileIds" if kind == "single" else "datasetIds"
    with ids.getData(DataSelection({key: [int(ident)]})) as r, open(out, "wb") as f:
        shutil.copyfileobj(r, f, 8192)


def whoami(url, session):
    c = client(url)
    c.sessionId = session
    print(c.getUserName())


def facility_client(url, idsurl, session):
    c = icat.Client(url, idsurl=idsurl)
    c.autoLogout = False
    c.sessionId = session
    return c


POLL = 1.0


def visitinfo(url, session):
    c = client(url)
    c.sessionId = session
    inv = c.search("SELECT i FROM Investigation i ORDER BY i.id LIMIT 0, 1")[0]
    datasets = []
    for ds in c.search("SELECT ds FROM Dataset ds WHERE ds.investigation.id = %d ORDER BY ds.id"
                       % inv.id):
        files = c.search("SELECT COUNT(df) FROM Datafile df WHERE df.dataset.id = %d" % ds.id)[0]
        size = c.search("SELECT SUM(df.fileSize) FROM Datafile df WHERE df.dataset.id = %d"
                        % ds.id)[0]
        datasets.append({"id": ds.id, "files": files, "bytes": size})
    print(json.dumps({"investigation": inv.id, "visit": inv.visitId, "datasets": datasets}))


def visitzip(url, idsurl, session, inv, out, tape):
    c = facility_client(url, idsurl, session)
    dss = c.search("SELECT ds FROM Dataset ds WHERE ds.investigation.id = %d" % int(inv))
    if tape == "1":
        pid = c.prepareData(dss)
        while not c.isDataPrepared(pid):
            time.sleep(POLL)
        r = c.getData(pid)
    else:
        r = c.getData(dss)
    with r, open(out, "wb") as f:
        shutil.copyfileobj(r, f, 8192)


def get_with_retry(c, selection):
    # getData of data on tape answers 503 and starts its restore: try again every POLL seconds.
    while True:
        try:
            return c.getData(selection)
        except icat.exception.IDSDataNotOnlineError:
            time.sleep(POLL)


def perfile(url, idsurl, session, dataset, outdir, tape):
    c = facility_client(url, idsurl, session)
    if tape == "1":
        sel = DataSelection({"datasetIds": [int(dataset)]})
        c.ids.restore(sel)
        while c.ids.getStatus(sel) != "ONLINE":
            time.sleep(POLL)
    dfs = c.search("SELECT df FROM Datafile df WHERE df.dataset.id = %d "
                   "ORDER BY df.id INCLUDE df.dataset" % int(dataset))
    for df in dfs:
        d = os.path.join(outdir, df.dataset.name)
        os.makedirs(d, exist_ok=True)
        with get_with_retry(c, DataSelection({"datafileIds": [df.id]})) as r, \
                open(os.path.join(d, df.name), "wb") as f:
            shutil.copyfileobj(r, f, 8192)


def seeddl(url, idsurl, session, dataset, outdir):
    c = facility_client(url, idsurl, session)
    os.makedirs(outdir, exist_ok=True)
    for fid in c.search("SELECT df.id FROM Datafile df WHERE df.dataset.id = %d" % int(dataset)):
        name = c.search("SELECT df.name FROM Datafile df WHERE df.id = %d" % fid)[0]
        c.search("SELECT df.fileSize FROM Datafile df WHERE df.id = %d" % fid)
        with get_with_retry(c, DataSelection({"datafileIds": [fid]})) as r, \
                open(os.path.join(outdir, name), "wb") as f:
            shutil.copyfileobj(r, f, 8192)


COMMANDS = {"prepare": (prepare, 1), "decode": (decode, 2), "walk": (walk, 2),
            "seed": (seed, 2), "download": (download, 5), "whoami": (whoami, 2),
            "visitinfo": (visitinfo, 2), "visitzip": (visitzip, 6), "perfile": (perfile, 6),
            "seeddl": (seeddl, 5)}


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    fn, nargs = COMMANDS[sys.argv[1]]
    if len(sys.argv) != 2 + nargs:
        sys.exit(__doc__)
    fn(*sys.argv[2:])


if __name__ == "__main__":
    main()
