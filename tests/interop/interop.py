#!/usr/bin/env python3
"""python-icat 1.7.0 drives icat-sim as it would a real ICAT 6.2 + IDS 2.1 server.

Usage: interop.py WSDL_URL IDS_URL
Fails (non-zero exit, traceback) on the first unexpected result.
"""

import datetime
import hashlib
import io
import os
import sys
import tempfile
import time

import icat
import icat.exception
from icat.query import Query


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what)


def expect_error(cls, what, fn, *args):
    try:
        fn(*args)
    except cls as e:
        print("ok:", what, "->", type(e).__name__, e.message if hasattr(e, "message") else e)
        return e
    raise AssertionError("%s: expected %s" % (what, cls.__name__))


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: interop.py WSDL_URL IDS_URL")
    url, idsurl = sys.argv[1], sys.argv[2]

    client = icat.Client(url)
    check(str(client.apiversion) == "6.2.0", "apiversion is 6.2.0")
    check("Dataset" in client.getEntityNames(), "getEntityNames lists Dataset")
    mnemonics = [a.mnemonic for a in client.getAuthenticatorInfo()]
    check(mnemonics == ["simple", "db"], "authenticators simple and db")

    expect_error(icat.exception.ICATSessionError, "bad password refused",
                 client.login, "simple", {"username": "root", "password": "wrong"})
    client.login("simple", {"username": "root", "password": "secret"})
    check(client.getUserName() == "simple/root", "logged in as simple/root")
    check(client.getRemainingMinutes() > 119, "session lasts 120 minutes")

    suffix = "%d" % (time.time() * 1000)
    facility = client.new("Facility", name="InteropFac" + suffix, fullName="Interop facility")
    facility.create()
    inv_type = client.new("InvestigationType", name="experiment", facility=facility)
    inv_type.create()
    ds_type = client.new("DatasetType", name="raw", facility=facility)
    ds_type.create()
    inv = client.new("Investigation", name="interop" + suffix, visitId="1", title="Interop test",
                     facility=facility, type=inv_type)
    inv.create()

    found = client.search("SELECT i FROM Investigation i WHERE i.name = 'interop%s' "
                          "INCLUDE i.facility, i.type" % suffix)
    check(len(found) == 1, "search finds the investigation")
    check(found[0].facility.name == "InteropFac" + suffix, "INCLUDE fills the facility")
    check(found[0].type.name == "experiment", "INCLUDE fills the type")

    query = Query(client, "Investigation", conditions={"name": "= 'interop%s'" % suffix},
                  includes=["facility"])
    found = client.search(query)
    check(len(found) == 1 and found[0].facility.id == facility.id, "Query class with includes")

    dataset = client.new("Dataset", name="ds1", complete=False, investigation=inv, type=ds_type)
    dataset.create()
    check(dataset.id is not None and dataset.id > 0, "Dataset created with an id")
    expect_error(icat.exception.ICATObjectExistsError, "duplicate Dataset refused",
                 client.new("Dataset", name="ds1", complete=False, investigation=inv, type=ds_type).create)

    got = client.get("Dataset INCLUDE 1", dataset.id)
    check(got.name == "ds1" and got.investigation.id == inv.id, "get with INCLUDE 1")
    check(got.createId == "simple/root", "createId set by the server")

    got.description = "updated by python-icat"
    got.complete = True
    got.update()
    again = client.get("Dataset ds INCLUDE ds.type", dataset.id)
    check(again.description == "updated by python-icat" and again.complete, "update persisted")
    check(again.type.name == "raw", "update kept the many-to-one relations")

    rows = client.search("SELECT ds.name, ds.complete FROM Dataset ds WHERE ds.id = %d" % dataset.id)
    check(rows == [("ds1", True)], "multi-attribute search gives tuples: %r" % (rows,))
    count = client.search("SELECT COUNT(ds) FROM Dataset ds WHERE ds.investigation.id = %d" % inv.id)
    check(count == [1], "COUNT gives a number")

    jaxb_values_part(client, inv, ds_type, facility, inv_type, suffix)
    jpql_part(client, dataset)
    ids_part(client, idsurl, dataset, facility)

    client.delete(again)
    expect_error(icat.exception.ICATNoObjectError, "deleted Dataset is gone",
                 client.get, "Dataset", dataset.id)
    client.delete(inv)
    client.logout()
    expect_error(icat.exception.ICATSessionError, "logged-out session refused",
                 client.search, "SELECT f FROM Facility f")
    print("interop: all checks passed")


def jaxb_values_part(client, inv, ds_type, facility, inv_type, suffix):
    """Values as suds sends them, read as ICAT's JAXB does (icat_soap::jaxb)."""
    # The tutorial pattern: complete left unset, suds sends an empty <complete/>.
    tutorial = client.new("Dataset", name="tutorial", investigation=inv, type=ds_type)
    tutorial.create()
    check(client.get("Dataset", tutorial.id).complete is False, "empty <complete/> is false")
    # A set-up script's date-only endDate is midnight (server time zone UTC).
    dated = client.new("Investigation", name="dated" + suffix, visitId="1", title="Dates",
                       facility=facility, type=inv_type, endDate="2019-12-31")
    dated.create()
    got = client.get("Investigation", dated.id).endDate
    check(got == datetime.datetime(2019, 12, 31, tzinfo=datetime.timezone.utc),
          "date-only endDate stored as midnight: %r" % (got,))
    # createMany: the fault names the first offending object.
    files = [client.new("Datafile", name="many%d.dat" % i, dataset=tutorial) for i in range(4)]
    files[1].name = None
    err = expect_error(icat.exception.ICATValidationError, "createMany with a bad second object",
                       client.createMany, files)
    check(err.offset == 1, "createMany fault carries offset 1: %r" % (err.offset,))
    check(client.search("SELECT COUNT(df) FROM Datafile df WHERE df.dataset.id = %d"
                        % tutorial.id) == [0], "createMany created nothing")
    client.delete(tutorial)
    client.delete(dated)


def jpql_part(client, dataset):
    """JPQL as python-icat users write it."""
    df = client.new("Datafile", name="dated.dat", dataset=dataset,
                    datafileCreateTime="2012-06-01T12:00:00Z")
    df.create()
    query = Query(client, "Datafile", conditions={
        "datafileCreateTime": [">= '2012-01-01'", "< '2013-01-01'"],
        "dataset.id": "= %d" % dataset.id})
    found = client.search(query)
    check([d.name for d in found] == ["dated.dat"], "date compared with a string literal")
    query = Query(client, "Datafile", conditions={
        "datafileCreateTime": ">= '2012-06-01 12:00:01'", "dataset.id": "= %d" % dataset.id})
    check(client.search(query) == [], "date compared with a date-time string literal")
    found = client.search("Dataset INCLUDE Datafile [id = %d]" % dataset.id)
    check(len(found) == 1 and [d.name for d in found[0].datafiles] == ["dated.dat"],
          "concise form with INCLUDE and a [condition]")
    client.delete(df)


def ids_part(client, idsurl, dataset, facility):
    client.add_ids(idsurl)
    client.ids.ping()
    fmt = client.new("DatafileFormat", name="text", version="1", facility=facility)
    fmt.create()
    content = os.urandom(100000)
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(content)
        path = f.name
    try:
        datafile = client.new("Datafile", name="upload.dat", dataset=dataset, datafileFormat=fmt)
        datafile = client.putData(path, datafile)
    finally:
        os.unlink(path)
    check(datafile.fileSize == len(content), "putData registered the size")
    prepared = client.prepareData({"datafileIds": [datafile.id]})
    for _ in range(100):
        if client.isDataPrepared(prepared):
            break
        time.sleep(0.1)
    else:
        raise AssertionError("data never became prepared")
    response = client.getData(prepared)
    data = response.read()
    check(hashlib.sha256(data).digest() == hashlib.sha256(content).digest(), "getData returns the upload")
    # A prepared id needs no session: it still serves the data after its session is gone.
    other = icat.Client(client.url, idsurl=idsurl)
    other.login("simple", {"username": "root", "password": "secret"})
    shared = other.prepareData({"datafileIds": [datafile.id]})
    other.logout()
    data = other.getData(shared).read()
    check(data == content, "getData by preparedId after its session logged out")
    check(other.ids.getSize(shared) == len(content), "getSize by preparedId without a session")
    client.deleteData([datafile])


if __name__ == "__main__":
    main()
