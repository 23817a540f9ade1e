ALTER TABLE activations
    DROP COLUMN IF EXISTS platform_path,
    DROP COLUMN IF EXISTS replaced_segment_ids;
