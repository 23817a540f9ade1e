DROP TABLE IF EXISTS outbox, run_errors, run_items, runs, activations, output_templates, topics,
    platform_connections, api_keys, orgs CASCADE;
