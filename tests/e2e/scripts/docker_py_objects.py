"""docker-py against wharf's Engine API: images, volumes, networks,
containers, exec, logs streaming and stats. Exits non-zero on the first
mismatch."""
import sys

import docker

client = docker.DockerClient(base_url=sys.argv[1], version="1.41")
image = client.images.get("busybox:latest")
assert "busybox:latest" in image.tags, image.tags
assert image.id.startswith("sha256:"), image.id
image.tag("py/box", "v1")
assert any("py/box:v1" in i.tags for i in client.images.list()), client.images.list()
client.images.remove("py/box:v1")

volume = client.volumes.create("py_data", labels={"by": "py"})
assert [v.name for v in client.volumes.list(filters={"label": "by=py"})] == ["py_data"]
network = client.networks.create("py_net", driver="bridge")
assert network.attrs["Driver"] == "bridge"

box = client.containers.run(
    "busybox",
    ["sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.2; done; sleep 300"],
    detach=True,
    name="py_box",
    volumes={"py_data": {"bind": "/data", "mode": "rw"}},
)
network.connect(box, aliases=["pybox"])
streamed = []
for chunk in box.logs(stream=True, follow=True):
    streamed.append(chunk.decode())
    if "line3" in "".join(streamed):
        break
assert "line1" in "".join(streamed), streamed
code, output = box.exec_run(["sh", "-c", "echo hi > /data/f; cat /data/f"])
assert (code, output.strip()) == (0, b"hi"), (code, output)
stats = box.stats(stream=False)
assert "memory_stats" in stats and "cpu_stats" in stats, stats.keys()
box.reload()
assert "py_net" in box.attrs["NetworkSettings"]["Networks"], box.attrs["NetworkSettings"]
network.disconnect(box)
box.remove(force=True)
network.remove()
volume.remove()
assert "py_data" not in [v.name for v in client.volumes.list()]
print("docker-py ok")
