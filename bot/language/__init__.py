"""Words families read: the plain-words guard and masking personal data for translation."""
