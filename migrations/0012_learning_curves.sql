CREATE TABLE "learning_curve_epochs" (
	"run_id" uuid NOT NULL,
	"epoch" integer NOT NULL,
	"step" integer NOT NULL,
	"learning_rate" double precision NOT NULL,
	"train_loss" double precision,
	"train_accuracy" double precision NOT NULL,
	"test_loss" double precision,
	"test_accuracy" double precision,
	CONSTRAINT "learning_curve_epochs_run_id_epoch_pk" PRIMARY KEY("run_id","epoch")
);
--> statement-breakpoint
ALTER TABLE "learning_curve_epochs" ADD CONSTRAINT "learning_curve_epochs_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;