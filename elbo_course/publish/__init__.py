"""Slides, handouts and the course website, built offline from the notebooks (see INSTRUCTORS.md)."""
