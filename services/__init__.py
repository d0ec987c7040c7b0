"""The services: what the web pages, the API, the admin, the CLI and the job workers all go through, so files
and rows always change together. One module per job:

- analyses: accept an upload (analyse a photo now, store and queue a video), the video job, delete, list;
- documents: the JSON shapes of an analysis (API and CLI) and of a subject;
- explanations: "Why?" heat maps as jobs of the durable queue;
- insights: subjects' histories, insight caches and alerts;
- subjects: create, delete, assign detections to subjects of their kind, count and list appearances;
- species: a pet's species set by its owner (a cat the models read as a dog), its reading removed;
- maintenance: the orphan scan and its repair;
- storage: every file path, thumbnails, writes and deletes;
- access: ownership checks.

They raise the domain errors of services/errors.py; the web layer maps them to HTTP in one place.
"""
