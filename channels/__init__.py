"""Channel adapters: one per provider, behind one base class. They know nothing of schools."""
