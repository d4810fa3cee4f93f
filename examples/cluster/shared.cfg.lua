-- What both nodes of the README's two-node cluster share (README:
-- "Cluster"): the Redis they meet in, and the components, which each
-- node lists alike.  a.cfg.lua and b.cfg.lua set their own port and name,
-- then include this file.

-- The Redis both nodes use (rediss:// for TLS; a password may be in the
-- URL, or in cluster_redis_password).  A node stops at startup, with this
-- line, when it cannot reach it.
cluster_redis = "redis://127.0.0.1:6379/0"
-- Seconds a node's components outlive it after it dies.
cluster_lease = 5

component_interfaces = { "127.0.0.1" }
-- The MUC runs on one node at a time and moves to the other when that one
-- goes away; both find its persistent rooms here (relative to this file).
data_path = "data"

Component "gateway.example.org"
	component_secret = "change-me-gateway-secret"

Component "bot.example.org"
	component_secret = "change-me-bot-secret"

Component "conference.example.org" "muc"
	name = "Example chatrooms"
