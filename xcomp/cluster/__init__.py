# -*- test-case-name: xcomp.test.test_cluster_loopback -*-
"""
Several xcomp nodes acting as one router through Redis.

Each node publishes which domains are bound on it in one Redis hash, under
a lease it renews (L{xcomp.cluster.keys}); each keeps a copy of that table
(L{xcomp.cluster.table}), so that a stanza for a domain bound on another
node is found without a round trip.  Such a stanza leaves through the
node's outbox (L{xcomp.cluster.outbox}), batched per reactor turn into the
other node's Redis stream, and its inbox (L{xcomp.cluster.inbox}) reads it
there and hands it to its router.  A stream binding a domain first claims
it cluster-wide (L{xcomp.cluster.claims}), so that the conflict policy
holds across nodes.  L{xcomp.cluster.service} ties them together; the
router itself sees one more kind of route and still does no I/O.
"""
