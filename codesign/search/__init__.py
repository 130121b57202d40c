"""The design-space search: spaces as data, candidates, the objective, and the study driver."""
