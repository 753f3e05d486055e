# mk/hostile.mk - hostile servers (tests/hostile): small TLS servers on
# loopback that misbehave on purpose, against build/le-elector. No API
# server needed; about 90 s with 3 cases at a time. Included by the main
# Makefile; part of make test.
#
#   make hostile                         every case
#   python3 tests/hostile/run.py --only slowloris,noop-write    some
#   python3 tests/hostile/run.py --list                         what each does

.PHONY: hostile
TEST_EXTRA += hostile

hostile: build/le-elector
	@python3 tests/hostile/run.py
