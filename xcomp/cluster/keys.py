# -*- test-case-name: xcomp.test.test_cluster_redis -*-
"""
The names xcomp uses in Redis, and the Lua scripts that change them.

The scripts are what makes the cluster's rules atomic: a claim reads the
current owner, checks that it is alive and writes the new one in one step,
so two nodes binding the same domain at once cannot both win; a send checks
that its target is alive and has room before it adds anything, so a stanza
is either queued for a live node or refused, never trimmed away.

The layout, all under one prefix (so that one Redis database can carry
several clusters):

  - C{<p>routes}: hash, domain -> the node it is bound on;
  - C{<p>node:<name>}: string, the node's incarnation, with the lease as
    its time to live;
  - C{<p>in:<name>}: stream, what waits for the node; each entry is one
    batch of stanzas from one node (fields C{f}, then C{s} per stanza), or
    one control message (field C{k}): C{kick} (C{d}: the domain, C{to}:
    the incarnation it is for, C{by}: the node that took it), or
    C{released} (C{d}: the domain a kicked node has let go of);
  - C{<p>events}: channel; each message is C{domain node}, or C{domain}
    alone when it was let go of;
  - C{<p>nodes}: set, every node that has held a lease and may have left
    entries in its stream (a node is taken out once it is gone and its
    stream is empty).
"""

from __future__ import annotations

DEFAULT_PREFIX = b"xcomp:"


class Keys:
    """
    The key names for one cluster prefix and one node.
    """

    def __init__(self, node: bytes, prefix: bytes = DEFAULT_PREFIX) -> None:
        self.prefix = prefix
        self.node = node
        self.routes = prefix + b"routes"
        self.events = prefix + b"events"
        self.nodes = prefix + b"nodes"
        self.lease = self.leaseOf(node)
        self.inbox = self.inboxOf(node)

    def leaseOf(self, node: bytes) -> bytes:
        return self.prefix + b"node:" + node

    def inboxOf(self, node: bytes) -> bytes:
        return self.prefix + b"in:" + node


#: KEYS: routes, events.  ARGV: prefix, domain, node, policy (kick_new,
#: kick_old, or standby: take it only if nobody alive has it), the stream
#: bound (unused).  A kicked owner is told through its stream, addressed to
#: its incarnation (a kick left from its last life does not end a stream of
#: its next), and answers C{released} in the new owner's stream once
#: nothing more reaches its own stream for the domain.  Returns {"ok", ""} |
#: {"conflict", owner} | {"kicked", owner}.
CLAIM = b"""
local owner = redis.call('HGET', KEYS[1], ARGV[2])
if owner and owner ~= ARGV[3] and redis.call('EXISTS', ARGV[1] .. 'node:' .. owner) == 1 then
  if ARGV[4] ~= 'kick_old' then
    return {'conflict', owner}
  end
  local incarnation = redis.call('GET', ARGV[1] .. 'node:' .. owner)
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
  redis.call('XADD', ARGV[1] .. 'in:' .. owner, '*', 'k', 'kick', 'd', ARGV[2], 'to', incarnation, 'by', ARGV[3])
  redis.call('PUBLISH', KEYS[2], ARGV[2] .. ' ' .. ARGV[3])
  return {'kicked', owner}
end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
if owner ~= ARGV[3] then
  redis.call('PUBLISH', KEYS[2], ARGV[2] .. ' ' .. ARGV[3])
end
return {'ok', ''}
"""

#: KEYS: routes, events.  ARGV: node, then the domains it lets go of (only
#: those it still owns).  Returns how many it let go of.
RELEASE = b"""
local n = 0
for i = 2, #ARGV do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    redis.call('PUBLISH', KEYS[2], ARGV[i])
    n = n + 1
  end
end
return n
"""

#: KEYS: the target's lease, the target's stream.  ARGV: the stream bound,
#: the sending node, then the stanzas.  Returns 1 when queued, 0 when the
#: target is gone, -1 when its stream is full.
SEND = b"""
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
if redis.call('XLEN', KEYS[2]) >= tonumber(ARGV[1]) then
  return -1
end
local entry = {'f', ARGV[2]}
for i = 3, #ARGV do
  entry[#entry + 1] = 's'
  entry[#entry + 1] = ARGV[i]
end
redis.call('XADD', KEYS[2], '*', unpack(entry))
return 1
"""

#: KEYS: routes, the node's lease, events, nodes.  ARGV: prefix, node,
#: incarnation, lease in milliseconds, then the domains it has bound.
#: Renews the lease, or takes it again after Redis lost it (a restart), and
#: writes the node's domains back where nobody alive has taken them since.
#: Returns the domains another node took meanwhile.
RENEW = b"""
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
redis.call('SADD', KEYS[4], ARGV[2])
local lost = {}
for i = 5, #ARGV do
  local owner = redis.call('HGET', KEYS[1], ARGV[i])
  if not owner or (owner ~= ARGV[2] and redis.call('EXISTS', ARGV[1] .. 'node:' .. owner) == 0) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[2])
    redis.call('PUBLISH', KEYS[3], ARGV[i] .. ' ' .. ARGV[2])
  elseif owner ~= ARGV[2] then
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
"""

#: KEYS: routes.  ARGV: prefix.  The table: a flat list of domain, node,
#: and whether the node is alive (1 or 0), for each bound domain.
SNAPSHOT = b"""
local all = redis.call('HGETALL', KEYS[1])
local out = {}
local alive = {}
for i = 1, #all, 2 do
  local node = all[i + 1]
  if alive[node] == nil then
    alive[node] = redis.call('EXISTS', ARGV[1] .. 'node:' .. node)
  end
  out[#out + 1] = all[i]
  out[#out + 1] = node
  out[#out + 1] = alive[node]
end
return out
"""

#: KEYS: nodes.  ARGV: prefix, this node.  The nodes other than this one
#: whose lease is gone and whose stream still holds entries; the gone ones
#: with nothing left are forgotten.
ORPHANS = b"""
local out = {}
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if node ~= ARGV[2] and redis.call('EXISTS', ARGV[1] .. 'node:' .. node) == 0 then
    if redis.call('XLEN', ARGV[1] .. 'in:' .. node) == 0 then
      redis.call('SREM', KEYS[1], node)
    else
      out[#out + 1] = node
    end
  end
end
return out
"""

#: KEYS: a gone node's lease, its stream.  ARGV: how many entries.  Takes
#: (reads and deletes) the oldest entries of the stream, unless the node has
#: come back meanwhile: each entry is taken by one node only.  Returns the
#: entries, as XRANGE does.
ADOPT = b"""
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {}
end
local entries = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', ARGV[1])
for _, entry in ipairs(entries) do
  redis.call('XDEL', KEYS[2], entry[1])
end
return entries
"""
