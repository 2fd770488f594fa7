"""The fuzzing suite of the readers (issue 20): generated valid files, their mutations, a strict
reference reader, and a runner that counts each file in a worker process under a memory limit."""
