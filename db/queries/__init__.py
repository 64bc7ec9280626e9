"""Parameterised SQL, one module per aggregate; import the module you need."""
