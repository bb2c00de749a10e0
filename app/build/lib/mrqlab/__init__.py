"""mrq-lab's application code: URIs, MRQ compatibility fixes, scheduler, entry points."""
