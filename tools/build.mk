# tools/: rlctl, which watches a swarm on the bus; and the swarm's tests.

RLCTL = $(BUILD)/rlctl
PROGRAMS += $(RLCTL) $(BUILD)/tests/swarm_agent
INTEGRATION += tests/test_swarm.py

$(RLCTL): $(BUILD)/tools/rlctl.o $(CONFIG_OBJ) $(STATIC)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(STATIC) -linih $(LDLIBS)
