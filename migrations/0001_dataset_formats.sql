CREATE TYPE "public"."dataset_format" AS ENUM('SAFETENSORS', 'CIFAR10_BINARY', 'MNIST_IDX');--> statement-breakpoint
ALTER TABLE "datasets" ADD COLUMN "format" "dataset_format" DEFAULT 'SAFETENSORS' NOT NULL;--> statement-breakpoint
ALTER TABLE "datasets" ADD COLUMN "input_layout" text;--> statement-breakpoint
ALTER TABLE "datasets" ADD COLUMN "normalization" jsonb;--> statement-breakpoint
ALTER TABLE "datasets" ADD COLUMN "labels_uri" text;--> statement-breakpoint
ALTER TABLE "datasets" ADD COLUMN "labels_bucket" text;--> statement-breakpoint
ALTER TABLE "datasets" ADD COLUMN "labels_key" text;--> statement-breakpoint
ALTER TABLE "datasets" ADD COLUMN "labels_size" bigint;--> statement-breakpoint
ALTER TABLE "datasets" ADD COLUMN "labels_etag" text;--> statement-breakpoint
ALTER TABLE "datasets" ADD COLUMN "labels_sha256" text;