"""The edit: plan the cut, stitch the shots with their transitions and sound."""
