"""Readers and writers of the data formats (BEIR folders, STS files, labelled texts, text pairs, probes, TREC runs
and qrels, training texts): every validation error names the file and line or id. Imports nothing above it."""
