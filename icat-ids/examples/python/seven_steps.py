# The seven steps of issue 18 with python-icat 1.x, for comparison with ../seven_steps.rs.
# Not run by CI (no Python in the build); written against python-icat's documented API.
import os
import sys
import icat
from icat.query import Query
from icat.exception import ICATObjectExistsError


def run(icat_url, ids_url, plugin, user, password, owner, dest):
    # Log in.
    client = icat.Client(icat_url + "/ICATService/ICAT?wsdl", idsurl=ids_url)
    client.login(plugin, {"username": user, "password": password})
    # 1. A user's investigations with dataset and file counts.
    mine = {"investigationUsers.user.name": "= '%s'" % owner.replace("'", "''")}
    for inv in client.search(Query(client, "Investigation", conditions=mine, order=["name"])):
        cond = {"investigation.id": "= %d" % inv.id}
        query = Query(client, "Dataset", conditions=cond, aggregate="COUNT")
        datasets = client.assertedSearch(query)[0]
        cond = {"dataset.investigation.id": "= %d" % inv.id}
        query = Query(client, "Datafile", conditions=cond, aggregate="COUNT")
        files = client.assertedSearch(query)[0]
        print("%s: %d datasets, %d files" % (inv.name, datasets, files))
    # 2. Get an entity with includes.
    inv = client.assertedSearch("SELECT i FROM Investigation i ORDER BY i.id LIMIT 0, 1")[0]
    inv = client.get("Investigation i INCLUDE i.datasets, i.facility", inv.id)
    print("%s has %d datasets" % (inv.name, len(inv.datasets)))
    # 3. Create and delete a Dataset and a Datafile.
    ds_type = client.assertedSearch("SELECT t FROM DatasetType t ORDER BY t.id LIMIT 0, 1")[0]
    ds = client.new("Dataset", name="seven-steps", investigation=inv, type=ds_type)
    ds.create()
    df = client.new("Datafile", name="seven.dat", dataset=ds)
    df.create()
    # 7. A typed fault: the same dataset again.
    try:
        client.new("Dataset", name="seven-steps", investigation=inv, type=ds_type).create()
        sys.exit("expected OBJECT_ALREADY_EXISTS")
    except ICATObjectExistsError as e:
        print("as expected: %s" % e)
    client.deleteMany([df, ds])
    # 4. An aggregate query: COUNT + SUM.
    files, size = client.assertedSearch("SELECT COUNT(df), SUM(df.fileSize) FROM Datafile df")[0]
    print("%d files, %d bytes" % (files, size or 0))
    # 5. A paged stream.
    for df in client.searchChunked(Query(client, "Datafile", order=["id"]), chunksize=100):
        print(df.name)
    # 6. A dataset download with progress.
    response = client.getData([inv.datasets[0]])
    done = 0
    with open(os.path.join(dest, "dataset.zip"), "wb") as f:
        while chunk := response.read(1 << 16):
            f.write(chunk)
            done += len(chunk)
            print("dataset.zip %d" % done)


if __name__ == "__main__":
    icat_url, ids_url, plugin, user, owner = sys.argv[1:]
    run(icat_url, ids_url, plugin, user, os.environ["ICAT_PASSWORD"], owner, "seven-steps-download")
