# The two commands: `make run` starts a virtual MFP on embedded defaults, `make test` installs
# what the tests need and runs every check. Both work on a fresh Debian machine.

VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
# Two stamps: `run` installs what running needs, `test` adds the [test] extra (playwright,
# schemathesis, mypy, ...) on top; either order installs each thing once.
STAMP_RUN  := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
# Debian packages the tests drive: CUPS backends, ipptool, net-snmp (and snmptrapd), rlpr, nmap, socat, gs,
# pdfinfo (poppler) to cross-check page counts, setpriv (util-linux) to drop privileges,
# chromium for the web UI's browser tests (driven by Python playwright); the discovery
# responders' clients (avahi, nmblookup from samba-common-bin, nbtscan, dbus for avahi);
# nftables, ping and curl for the IP filter's tests; sslscan for the TLS policy's.
DEB_PACKAGES := cups cups-client cups-ipp-utils snmp snmptrapd socat rlpr nmap ghostscript poppler-utils procps iproute2 util-linux chromium avahi-daemon avahi-utils samba-common-bin nbtscan dbus nftables iputils-ping curl sslscan sane-utils sane-airscan vsftpd samba libtiff-tools knot knot-dnsutils slapd ldap-utils krb5-kdc krb5-admin-server dnsmasq-base
# LPRng conflicts with cups-bsd, so its lpr is unpacked beside the project instead (CLIENTS.md).
LPRNG_DIR := .tools/lprng
# net-snmp's snmpd, the reference of bench/snmp_bench.py, is unpacked the same way: installing
# the package would start a system daemon. Its libraries come with the snmp package (libsnmp40).
SNMPD_DIR := .tools/snmpd

.PHONY: run test lint typecheck unit integration bench soak clean deb-deps

$(STAMP_RUN): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $(STAMP_RUN)

$(STAMP_TEST): $(STAMP_RUN)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP_TEST)

run: $(STAMP_RUN)
	$(VENV)/bin/mfpd serve $(ARGS)

deb-deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	  else echo "not root: tests needing$$missing will be skipped"; fi; \
	fi
	@if [ ! -x $(LPRNG_DIR)/usr/bin/lpr ] && [ "$$(id -u)" = 0 ]; then \
	  tmp=$$(mktemp -d) && (cd $$tmp && apt-get download lprng >/dev/null 2>&1) && \
	  mkdir -p $(LPRNG_DIR) && dpkg-deb -x $$tmp/lprng_*.deb $(LPRNG_DIR); rm -rf $$tmp; \
	fi
	@if [ ! -x $(SNMPD_DIR)/usr/sbin/snmpd ] && [ "$$(id -u)" = 0 ]; then \
	  tmp=$$(mktemp -d) && (cd $$tmp && apt-get download snmpd >/dev/null 2>&1) && \
	  mkdir -p $(SNMPD_DIR) && dpkg-deb -x $$tmp/snmpd_*.deb $(SNMPD_DIR); rm -rf $$tmp; \
	fi

lint: $(STAMP_TEST)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: $(STAMP_TEST)
	$(VENV)/bin/mypy src

test: $(STAMP_TEST) deb-deps lint typecheck
	$(VENV)/bin/pytest -q -p no:cacheprovider

bench: $(STAMP_TEST)
	$(PY) bench/run_all.py

# About 20 minutes, not part of `make test`: SOAK_ARGS="--minutes 3 --jobs 3000" for a short run.
soak: $(STAMP_TEST)
	$(PY) bench/soak.py $(SOAK_ARGS)

clean:
	rm -rf $(VENV) .tools mfpd-data .pytest_cache .mypy_cache .ruff_cache
