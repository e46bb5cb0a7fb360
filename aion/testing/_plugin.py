"""pytest plugin for aion.testing (fixtures are added by the testing kit)."""
