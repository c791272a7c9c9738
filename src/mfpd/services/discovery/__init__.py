"""The discovery responders (mDNS/DNS-SD, SLP, SSDP, WS-Discovery, NetBIOS): one module
each, sharing the socket rules of multicast.py and the reply budget of reply_budget.py."""
