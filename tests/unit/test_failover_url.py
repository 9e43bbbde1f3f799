"""A cluster's broker URL: the nodes' URLs separated by ``;`` (docs/deployment.md). kombu connects
to the next one when a node refuses; the ops pages read the vhost and the management API's host
from the first, not from the whole list."""

from __future__ import annotations

from kombu.connection import Connection

from consumers.amqp.queue_stats import management_base, vhost_of

CLUSTER = "amqp://desk:pw@rabbit1:5672/resetdesk;amqp://desk:pw@rabbit2:5672/resetdesk"


def test_kombu_reads_every_node_of_a_failover_url() -> None:
    conn = Connection(CLUSTER)
    assert conn.alt == CLUSTER.split(";")
    assert (conn.host, conn.virtual_host, conn.userid) == ("rabbit1:5672", "resetdesk", "desk")


def test_the_ops_pages_read_the_vhost_and_api_host_of_the_first_node() -> None:
    assert vhost_of(CLUSTER) == "resetdesk"
    assert management_base(CLUSTER, None) == "http://desk:pw@rabbit1:15672"
    assert vhost_of("amqp://desk:pw@rabbit1:5672/") == "/"
