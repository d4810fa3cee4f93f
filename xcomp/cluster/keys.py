# -*- test-case-name: xcomp.test.test_cluster_loopback -*-
"""
The names xcomp uses in Redis, and the Lua scripts that change them.

The scripts are what makes the cluster's rules atomic: a claim reads the
current owner, checks that it is alive and writes the new one in one step,
so two nodes binding the same domain at once cannot both win; a send checks
that its target is alive and adds only what its stream has room for, so a
stanza is either queued for a live node or refused, never trimmed away.

The layout, all under one prefix (so that one Redis database can carry
several clusters):

  - C{<p>routes}: hash, domain -> the node it is bound on, C{~node} for
    a domain whose component went away from that node, which holds its
    stanzas until it comes back (L{xcomp.hold}), or C{*} for a domain
    balanced over connections on several nodes;
  - C{<p>bal:<domain>}: set, the nodes with connections of a balanced
    domain;
  - C{<p>node:<name>}: string, the node's incarnation, with the lease as
    its time to live;
  - C{<p>in:<name>}: stream, what waits for the node; each entry is one
    batch of stanzas from one node (fields C{f}, then C{s} per stanza), or
    one control message (field C{k}): C{kick} (C{d}: the domain, C{to}:
    the incarnation it is for, C{by}: the node that took it), C{released}
    (C{d}: the domain a kicked node has let go of), or C{handover} (C{d}:
    a held domain bound again on node C{by}, which is to get what was
    held);
  - C{<p>events}: channel; each message is C{domain node}, C{domain}
    alone when it was let go of, C{domain ~node} when that node holds it,
    or, for a balanced domain, C{domain +node} and C{domain -node} as a
    node gains its first connection or loses its last;
  - C{<p>n:<name>}: integer, how many stanzas the node's stream holds
    (what the senders' bound counts: an entry holds up to a batch);
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
        self.pending = self.pendingOf(node)

    def leaseOf(self, node: bytes) -> bytes:
        return self.prefix + b"node:" + node

    def inboxOf(self, node: bytes) -> bytes:
        return self.prefix + b"in:" + node

    def pendingOf(self, node: bytes) -> bytes:
        return self.prefix + b"n:" + node


#: KEYS: routes, events.  ARGV: prefix, domain, node, policy (kick_new,
#: kick_old, standby: take it only if nobody alive has it, or balance: share
#: it with the other nodes' connections that are balanced too), the stream
#: bound (unused).  A kicked owner is told through its stream, addressed to
#: its incarnation (a kick left from its last life does not end a stream of
#: its next), and answers C{released} in the new owner's stream once
#: nothing more reaches its own stream for the domain.  Returns {"ok", ""} |
#: {"conflict", owner} | {"kicked", owner}.
CLAIM = b"""
local prefix, domain, node, policy = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local function alive(n)
  return redis.call('EXISTS', prefix .. 'node:' .. n) == 1
end
local shared = prefix .. 'bal:' .. domain
local owner = redis.call('HGET', KEYS[1], domain)
if owner and string.sub(owner, 1, 1) == '~' then
  -- Held by a node its component left: bound again here, and the holder
  -- passes on what it held.
  local holder = string.sub(owner, 2)
  if holder ~= node and alive(holder) then
    redis.call('XADD', prefix .. 'in:' .. holder, '*', 'k', 'handover', 'd', domain, 'by', node)
  end
  owner = false
end
if owner == '*' then
  local other = nil
  for _, member in ipairs(redis.call('SMEMBERS', shared)) do
    if member ~= node then
      if alive(member) then
        other = member
      else
        redis.call('SREM', shared, member)
      end
    end
  end
  if other and policy ~= 'balance' then
    return {'conflict', other}
  end
  if not other then
    redis.call('DEL', shared)
    owner = false
  end
elseif owner and owner ~= node and alive(owner) then
  if policy ~= 'kick_old' then
    return {'conflict', owner}
  end
  local incarnation = redis.call('GET', prefix .. 'node:' .. owner)
  redis.call('HSET', KEYS[1], domain, node)
  redis.call('XADD', prefix .. 'in:' .. owner, '*', 'k', 'kick', 'd', domain, 'to', incarnation, 'by', node)
  redis.call('PUBLISH', KEYS[2], domain .. ' ' .. node)
  return {'kicked', owner}
end
if policy == 'balance' then
  redis.call('HSET', KEYS[1], domain, '*')
  if redis.call('SADD', shared, node) == 1 then
    redis.call('PUBLISH', KEYS[2], domain .. ' +' .. node)
  end
  return {'ok', ''}
end
redis.call('HSET', KEYS[1], domain, node)
if owner ~= node then
  redis.call('PUBLISH', KEYS[2], domain .. ' ' .. node)
end
return {'ok', ''}
"""

#: KEYS: routes, events.  ARGV: prefix, node, then the domains it lets go
#: of (only those it still owns, or shares).  Returns how many it let go of.
RELEASE = b"""
local n = 0
for i = 3, #ARGV do
  local owner = redis.call('HGET', KEYS[1], ARGV[i])
  if owner == ARGV[2] or owner == '~' .. ARGV[2] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    redis.call('PUBLISH', KEYS[2], ARGV[i])
    n = n + 1
  elseif owner == '*' then
    local shared = ARGV[1] .. 'bal:' .. ARGV[i]
    if redis.call('SREM', shared, ARGV[2]) == 1 then
      redis.call('PUBLISH', KEYS[2], ARGV[i] .. ' -' .. ARGV[2])
      n = n + 1
    end
    if redis.call('SCARD', shared) == 0 then
      redis.call('HDEL', KEYS[1], ARGV[i])
      redis.call('PUBLISH', KEYS[2], ARGV[i])
    end
  end
end
return n
"""

#: KEYS: the target's lease, the target's stream, its count.  ARGV: the
#: stream bound (in stanzas), the sending node, then the stanzas.  Takes as
#: many as the bound leaves room for, from the first: returns how many, or
#: -1 when the target is gone.
SEND = b"""
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
local room = tonumber(ARGV[1]) - tonumber(redis.call('GET', KEYS[3]) or '0')
local count = math.min(#ARGV - 2, room)
if count <= 0 then
  return 0
end
local entry = {'f', ARGV[2]}
for i = 3, count + 2 do
  entry[#entry + 1] = 's'
  entry[#entry + 1] = ARGV[i]
end
redis.call('XADD', KEYS[2], '*', unpack(entry))
redis.call('INCRBY', KEYS[3], count)
return count
"""

#: KEYS: routes, the node's lease, events, nodes.  ARGV: prefix, node,
#: incarnation, lease in milliseconds, then the domains it has bound (a
#: balanced one as C{*domain}).  Renews the lease, or takes it again after
#: Redis lost it (a restart), and writes the node's domains back where
#: nobody alive has taken them since.  Returns the domains another node
#: took meanwhile.
RENEW = b"""
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
redis.call('SADD', KEYS[4], ARGV[2])
local function alive(n)
  return redis.call('EXISTS', ARGV[1] .. 'node:' .. n) == 1
end
local lost = {}
for i = 5, #ARGV do
  local domain = ARGV[i]
  local balanced = string.sub(domain, 1, 1) == '*'
  if balanced then
    domain = string.sub(domain, 2)
  end
  local owner = redis.call('HGET', KEYS[1], domain)
  if balanced and (not owner or owner == '*' or owner == ARGV[2] or not alive(owner)) then
    redis.call('HSET', KEYS[1], domain, '*')
    if redis.call('SADD', ARGV[1] .. 'bal:' .. domain, ARGV[2]) == 1 then
      redis.call('PUBLISH', KEYS[3], domain .. ' +' .. ARGV[2])
    end
  elseif not balanced and (not owner or (owner ~= ARGV[2] and owner ~= '*' and not alive(owner))) then
    redis.call('HSET', KEYS[1], domain, ARGV[2])
    redis.call('PUBLISH', KEYS[3], domain .. ' ' .. ARGV[2])
  elseif owner ~= ARGV[2] then
    lost[#lost + 1] = domain
  end
end
return lost
"""

#: KEYS: routes.  ARGV: prefix.  The table: a flat list of domain, node,
#: whether the node is alive (1 or 0), and what kind of route it is (0
#: bound, 1 balanced, 2 held), for each bound domain and, for a balanced
#: one, each of its nodes.
SNAPSHOT = b"""
local all = redis.call('HGETALL', KEYS[1])
local out = {}
local alive = {}
local function add(domain, node, balanced)
  if alive[node] == nil then
    alive[node] = redis.call('EXISTS', ARGV[1] .. 'node:' .. node)
  end
  out[#out + 1] = domain
  out[#out + 1] = node
  out[#out + 1] = alive[node]
  out[#out + 1] = balanced
end
for i = 1, #all, 2 do
  if all[i + 1] == '*' then
    for _, node in ipairs(redis.call('SMEMBERS', ARGV[1] .. 'bal:' .. all[i])) do
      add(all[i], node, 1)
    end
  elseif string.sub(all[i + 1], 1, 1) == '~' then
    add(all[i], string.sub(all[i + 1], 2), 2)
  else
    add(all[i], all[i + 1], 0)
  end
end
return out
"""

#: KEYS: routes, events.  ARGV: node, domain.  The domain's component left
#: the node, which holds its stanzas now: the others send them there until
#: it is bound again, on any node.  Returns 1, or 0 when the node no longer
#: had the domain.
HOLD = b"""
if redis.call('HGET', KEYS[1], ARGV[2]) ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[2], '~' .. ARGV[1])
redis.call('PUBLISH', KEYS[2], ARGV[2] .. ' ~' .. ARGV[1])
return 1
"""

#: KEYS: the node's stream, its count.  ARGV: how many stanzas, then the
#: entries read and routed.  Deletes them and takes them off the count.
DONE = b"""
for i = 2, #ARGV do
  redis.call('XDEL', KEYS[1], ARGV[i])
end
if redis.call('DECRBY', KEYS[2], ARGV[1]) <= 0 then
  redis.call('DEL', KEYS[2])
end
return 1
"""

#: KEYS: the node's stream, its count.  ARGV: the last entry it routed.
#: Deletes every entry up to that one, which a L{DONE} lost with its
#: connection left behind, and counts what is left again.  Run once per
#: connection, before the first read.
TRIM = b"""
for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', ARGV[1])) do
  redis.call('XDEL', KEYS[1], entry[1])
end
local count = 0
for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
  if entry[2][1] == 'f' then
    count = count + (#entry[2] - 2) / 2
  end
end
if count > 0 then
  redis.call('SET', KEYS[2], count)
else
  redis.call('DEL', KEYS[2])
end
return count
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
      redis.call('DEL', ARGV[1] .. 'n:' .. node)
    else
      out[#out + 1] = node
    end
  end
end
return out
"""

#: KEYS: a gone node's lease, its stream, its count.  ARGV: how many
#: entries.  Takes (reads and deletes) the oldest entries of the stream,
#: unless the node has come back meanwhile: each entry is taken by one node
#: only.  Returns the entries, as XRANGE does.
ADOPT = b"""
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {}
end
local entries = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', ARGV[1])
local count = 0
for _, entry in ipairs(entries) do
  redis.call('XDEL', KEYS[2], entry[1])
  if entry[2][1] == 'f' then
    count = count + (#entry[2] - 2) / 2
  end
end
if count > 0 and redis.call('DECRBY', KEYS[3], count) <= 0 then
  redis.call('DEL', KEYS[3])
end
return entries
"""
