-- Supervisors' labels on results (versioned; the highest version is current) and frozen datasets.
CREATE TABLE "result_labels" (
    "id" UUID NOT NULL,
    "result_id" UUID NOT NULL,
    "version" INTEGER NOT NULL,
    "label" TEXT NOT NULL,
    "mask_ref" TEXT,
    "note" TEXT,
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "result_labels_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "result_labels_label_check" CHECK ("label" IN ('confirmed_defect', 'false_alarm', 'missed_defect', 'confirmed_ok'))
);
CREATE UNIQUE INDEX "result_labels_result_id_version_key" ON "result_labels"("result_id", "version");
CREATE INDEX "result_labels_created_at_idx" ON "result_labels"("created_at" DESC);

CREATE TABLE "datasets" (
    "id" UUID NOT NULL,
    "line_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "frozen_at" TIMESTAMPTZ(3) NOT NULL,
    "selection" JSONB NOT NULL,
    "counts" JSONB NOT NULL,
    "created_by" TEXT NOT NULL,
    CONSTRAINT "datasets_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "datasets_line_id_name_version_key" ON "datasets"("line_id", "name", "version");

CREATE TABLE "dataset_items" (
    "dataset_id" UUID NOT NULL,
    "result_id" UUID NOT NULL,
    "split" TEXT NOT NULL,
    "label" TEXT NOT NULL,
    "image_ref" TEXT NOT NULL,
    "mask_ref" TEXT,
    CONSTRAINT "dataset_items_pkey" PRIMARY KEY ("dataset_id", "result_id"),
    CONSTRAINT "dataset_items_dataset_id_fkey" FOREIGN KEY ("dataset_id") REFERENCES "datasets"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "dataset_items_split_check" CHECK ("split" IN ('train', 'validation')),
    CONSTRAINT "dataset_items_label_check" CHECK ("label" IN ('normal', 'defect'))
);
