CREATE TYPE "public"."checkpoint_role" AS ENUM('INITIAL', 'INTERMEDIATE', 'FINAL', 'DERIVED');--> statement-breakpoint
CREATE TYPE "public"."dataset_split" AS ENUM('TRAIN', 'VALIDATION', 'TEST');--> statement-breakpoint
CREATE TYPE "public"."label_kind" AS ENUM('CLASS_INDEX', 'FLOAT_TARGET');--> statement-breakpoint
CREATE TABLE "checkpoints" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"run_id" uuid NOT NULL,
	"step" bigint NOT NULL,
	"role" "checkpoint_role" NOT NULL,
	"architecture" text,
	"tensor_count" integer NOT NULL,
	"parameter_count" bigint NOT NULL,
	"element_count" bigint NOT NULL,
	"uri" text NOT NULL,
	"bucket" text NOT NULL,
	"key" text NOT NULL,
	"size" bigint NOT NULL,
	"etag" text NOT NULL,
	"sha256" text,
	"header" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "checkpoints_run_role_step_key" UNIQUE("run_id","role","step"),
	CONSTRAINT "checkpoints_step_nonnegative" CHECK ("checkpoints"."step" >= 0)
);
--> statement-breakpoint
CREATE TABLE "datasets" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"seq" bigserial NOT NULL,
	"name" text NOT NULL,
	"split" "dataset_split" NOT NULL,
	"input_key" text NOT NULL,
	"label_key" text NOT NULL,
	"example_count" integer NOT NULL,
	"input_shape" integer[] NOT NULL,
	"input_dtype" text NOT NULL,
	"label_kind" "label_kind" NOT NULL,
	"label_dtype" text NOT NULL,
	"num_classes" integer,
	"uri" text NOT NULL,
	"bucket" text NOT NULL,
	"key" text NOT NULL,
	"size" bigint NOT NULL,
	"etag" text NOT NULL,
	"sha256" text,
	"header" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "datasets_seq_unique" UNIQUE("seq"),
	CONSTRAINT "datasets_name_split_key" UNIQUE("name","split")
);
--> statement-breakpoint
CREATE TABLE "runs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"seq" bigserial NOT NULL,
	"name" text NOT NULL,
	"architecture" text,
	"dataset_name" text,
	"hyperparameters" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"seed" bigint,
	"tags" text[] DEFAULT '{}'::text[] NOT NULL,
	"reported_metrics" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "runs_seq_unique" UNIQUE("seq"),
	CONSTRAINT "runs_name_unique" UNIQUE("name")
);
--> statement-breakpoint
ALTER TABLE "checkpoints" ADD CONSTRAINT "checkpoints_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "checkpoints_run_endpoint_key" ON "checkpoints" USING btree ("run_id","role") WHERE "checkpoints"."role" in ('INITIAL', 'FINAL');--> statement-breakpoint
CREATE INDEX "runs_tags_idx" ON "runs" USING gin ("tags");--> statement-breakpoint
CREATE INDEX "runs_architecture_idx" ON "runs" USING btree ("architecture");