ALTER TABLE "paths" ADD COLUMN "bn_stats_dataset_id" uuid;--> statement-breakpoint
ALTER TABLE "paths" ADD COLUMN "bn_stats_examples" integer;--> statement-breakpoint
ALTER TABLE "paths" ADD CONSTRAINT "paths_bn_stats_dataset_id_datasets_id_fk" FOREIGN KEY ("bn_stats_dataset_id") REFERENCES "public"."datasets"("id") ON DELETE restrict ON UPDATE no action;