"""The services: what the web pages, the API, the admin, the CLI and the job workers all go through, so files
and rows always change together. One module per job:

- accounts: an account's making, settings, password, export and deletion; tokens: its API tokens;
- analyses: accept an upload (analyse a photo now, store and queue a video), the video job, delete, list;
- copies: one user's uploads of the same bytes; reanalysis: a result made by earlier models, analysed again;
- documents: the JSON shapes of an analysis (API and CLI), a subject, an alert rule, and the exports' readings;
- explanations: "Why?" heat maps as jobs of the durable queue;
- identity: opt-in face signatures, suggestions and groups of unnamed faces;
- insights: subjects' histories, insight caches and alerts; clock: the owner's clock for days and weeks;
- subjects: create, delete, assign detections to subjects of their kind, count and list appearances;
- species: a pet's species set by its owner; track_readings: a video track read again as that species;
- moderation: what an administrator removed, told to its owner once;
- maintenance: the orphan scan and its repair;
- storage: every file path, thumbnails, writes and deletes; slots: how many decodes run at once per process;
- access: ownership checks and the order writers hold rows in.

They raise the domain errors of services/errors.py; the web layer maps them to HTTP in one place.
"""
