"""What the device says of its IPsec policies (config.IpsecConfig holds and checks them).

mfpd does not configure the host's kernel ESP (machines it runs on have none to give a
process, and taking over the host's IPsec would be wrong for a simulator): the policies are
recorded, validated, shown and audited, and every place that shows them says they are not
enforced.
"""

from __future__ import annotations

NOT_ENFORCED = (
    "Recorded, not enforced: this device keeps and checks its IPsec policies, but the host "
    "it runs on gives it no kernel ESP to configure, so no traffic is protected by them."
)
# What the disclosure paper says of a channel's life (shared/PORTS.md).
TUNNEL_LIFE = (
    "Once a channel is up it stays up until one end restarts or enters power saving; only "
    "clients and servers on the network start a tunnel, never the device."
)
