-- Node "b" of the README's two-node cluster: components connect to 5348.
component_ports = { 5348 }
cluster_node = "b"
Include "shared.cfg.lua"
