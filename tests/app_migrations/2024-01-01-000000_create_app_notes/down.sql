DROP TABLE app_notes;
