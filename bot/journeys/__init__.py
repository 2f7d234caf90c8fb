"""What staff send: good-news notes, meeting invitations, check-ins."""
