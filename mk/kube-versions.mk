# mk/kube-versions.mk - the Kubernetes releases the tests run against
# (tools/kube/versions.sh). make test runs everything against the newest;
# these run the API-server tests that can tell releases apart against the
# oldest one upstream still supports:
#
#   make kube-oldest          build the oldest release's test bed (v1.35/bin)
#   make integration-oldest   tests/integration/run.py and tests/kube-versions.py
#                             against it (started unless up, then left running)
#
# tests/kube-versions.py also runs in make test against the newest release.
KUBE_NEWEST := 1.37
KUBE_OLDEST := 1.35

.PHONY: kube-oldest integration-oldest

SERVER_DEPS += $(B)/unit
SERVER_RUN += python3 tests/kube-versions.py $(KUBE_NEWEST) || rc=1;

kube-oldest:
	LE_KUBE_VERSION=$(KUBE_OLDEST) tools/kube/build.sh

# Its own state dir and port: a server of the newest release may be up too,
# but the tests never run against both at once.
integration-oldest: $(B)/le-elector $(B)/unit kube-oldest
	@export LE_KUBE_VERSION=$(KUBE_OLDEST); eval "$$(tools/kube/versions.sh)" || exit 1; \
	was_up=0; [ -f "$$kube_state/env" ] && kill -0 $$(cat "$$kube_state/pid" 2>/dev/null) 2>/dev/null && was_up=1; \
	envf=$$(tools/kube/up.sh) || exit 1; export LE_STATE_DIR="$$(dirname "$$envf")"; rc=0; \
	echo "integration-oldest: Kubernetes $$(sed -n 's/^LE_KUBE_RELEASE=//p' "$$envf") on $$(sed -n 's/^LE_SERVER=//p' "$$envf")"; \
	python3 tests/integration/run.py || rc=1; \
	python3 tests/kube-versions.py $(KUBE_OLDEST) || rc=1; \
	[ $$was_up = 1 ] || tools/kube/down.sh >/dev/null; exit $$rc
