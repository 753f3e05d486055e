# mk/sim.mk - the deterministic simulation (tests/sim.c) and its mutants.
# Included by the main Makefile.
#
#   make sim            >= 10 000 simulated hours (2000 seeds x 5 h) on 2
#                       processes, then the clock-drift sweep
#   make sim-quick      200 simulated hours under ASan + UBSan; part of make test
#   make sim-mutants    each deliberate bug of tests/mutants/mutants.txt,
#                       applied to a copy of le.h, must be caught within
#                       200 simulated hours; part of make test
#   make sim-delete-held  Leases deleted or replaced while held (100 h): no
#                       replica that saw the deleted Lease may take it while
#                       its holder still leads; part of make test
#   make sim-repro      tests/sim/release_race.c, a reproduction the
#                       simulation found; part of make test
#
# A failure prints its seed and the command that replays it exactly, e.g.
# build/sim --seed 17 --hours 5 (add --trace SECONDS to see what happened).

SIM_JOBS      ?= 2
SIM_SEEDS     ?= 1-2000
SIM_HOURS     ?= 5
SIM_Q_SEEDS   ?= 1-400
SIM_Q_HOURS   ?= 0.5
SIM_M_SEEDS   ?= 1-400
SIM_M_HOURS   ?= 0.5
SIM_MUTANTS   := $(shell sed -n 's/^=== //p' tests/mutants/mutants.txt)
SIM_REPRO_MUTANTS := $(shell awk '/^=== /{m=$$2} /^@check repro/{print m}' tests/mutants/mutants.txt)

.PHONY: sim sim-quick sim-mutants sim-drift sim-delete-held sim-repro
TEST_EXTRA += sim-quick sim-delete-held sim-repro sim-mutants

# -O2 for the long runs; the ASan + UBSan build for make test
$(B)/sim: tests/sim.c le.h $(LLHTTP_OBJ)
	@mkdir -p $(B)
	$(CC) -std=c99 $(WARN) -O2 -g $(CPPFLAGS) tests/sim.c $(LLHTTP_OBJ) -o $@
$(B)/sim-san: tests/sim.c le.h $(LLHTTP_SAN)
	@mkdir -p $(B)
	$(CC) -std=c99 $(WARN) -O1 -g $(SAN) $(CPPFLAGS) tests/sim.c $(LLHTTP_SAN) -o $@

sim: $(B)/sim
	$(B)/sim --seeds $(SIM_SEEDS) --hours $(SIM_HOURS) --jobs $(SIM_JOBS)
	$(B)/sim --drift-sweep --seeds 1-40 --hours 1 --jobs $(SIM_JOBS)

sim-quick: $(B)/sim-san
	$(B)/sim-san --seeds $(SIM_Q_SEEDS) --hours $(SIM_Q_HOURS) --jobs $(SIM_JOBS)

# Overlaps when the clock of a follower runs faster than the leader's by
# more than LeaseDuration / RenewDeadline (outside the guarantee).
sim-drift: $(B)/sim
	$(B)/sim --drift-sweep --seeds 1-40 --hours 1 --jobs $(SIM_JOBS)

# Deleting or replacing a held Lease: a replica that had seen it must wait
# until its holder's leadership is over; one that never saw it cannot know
# (outside the guarantee: the overlaps it causes are counted, not failed).
sim-delete-held: $(B)/sim
	$(B)/sim --delete-held --seeds 1-100 --hours 1 --jobs $(SIM_JOBS)

# A reproduction the simulation found (tests/sim/release_race.c): exits 1
# if le_stop() can release a record another holder wrote meanwhile.
$(B)/release-race: tests/sim/release_race.c le.h $(LLHTTP_OBJ)
	@mkdir -p $(B)
	$(CC) -std=c99 $(WARN) -O1 -g $(CPPFLAGS) tests/sim/release_race.c $(LLHTTP_OBJ) -o $@
sim-repro: $(B)/release-race
	$(B)/release-race

# Mutants: le.h with one deliberate bug each (tests/mutants/mutants.txt).
# apply.py fails if a fragment no longer occurs exactly once in le.h.
$(B)/mutants/%/le.h: le.h tests/mutants/mutants.txt tests/mutants/apply.py
	@mkdir -p $(B)/mutants
	@python3 tests/mutants/apply.py le.h tests/mutants/mutants.txt $(B)/mutants $* >/dev/null
	@touch $@
$(B)/mutants/%/sim: $(B)/mutants/%/le.h tests/sim.c $(LLHTTP_OBJ)
	@$(CC) -std=c99 $(WARN) -O2 -I$(B)/mutants/$* $(CPPFLAGS) tests/sim.c $(LLHTTP_OBJ) -o $@
$(B)/mutants/%/release-race: $(B)/mutants/%/le.h tests/sim/release_race.c $(LLHTTP_OBJ)
	@$(CC) -std=c99 $(WARN) -O1 -I$(B)/mutants/$* $(CPPFLAGS) tests/sim/release_race.c $(LLHTTP_OBJ) -o $@

# "@check ARGS" in a mutant's block: more arguments for the simulation, or
# "repro": tests/sim/release_race.c must fail against it
sim-mutants: $(foreach m,$(SIM_MUTANTS),$(B)/mutants/$(m)/sim) \
             $(foreach m,$(SIM_REPRO_MUTANTS),$(B)/mutants/$(m)/release-race)
	@python3 tests/mutants/apply.py le.h tests/mutants/mutants.txt $(B)/mutants >/dev/null
	@survived=0; for m in $(SIM_MUTANTS); do \
	  chk=$$(sed -n "/^=== $$m\$$/,/^--- /s/^@check //p" tests/mutants/mutants.txt); \
	  if [ "$$chk" = repro ]; then \
	    if $(B)/mutants/$$m/release-race >/dev/null; then out="NOT caught by tests/sim/release_race.c"; \
	    else out="caught by tests/sim/release_race.c"; fi; \
	  else \
	    out=$$($(B)/mutants/$$m/sim --seeds $(SIM_M_SEEDS) --hours $(SIM_M_HOURS) --jobs $(SIM_JOBS) $$chk --expect-fail 2>/dev/null | tail -1); \
	  fi; \
	  printf '%-28s %s\n' "$$m" "$$out"; \
	  case "$$out" in *"caught after"*|"caught by"*) ;; *) survived=$$((survived + 1));; esac; \
	done; \
	n=$(words $(SIM_MUTANTS)); \
	echo "sim-mutants: $$((n - survived)) caught, $$survived survived"; \
	[ $$survived = 0 ]
