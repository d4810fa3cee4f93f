-- Node "a" of the README's two-node cluster: components connect to 5347.
component_ports = { 5347 }
cluster_node = "a"
Include "shared.cfg.lua"
