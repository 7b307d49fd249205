import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { LearningCurveEpochRow, TrainingJobRow } from '../../storage/training.tables.js';
import {
  cancelTraining,
  getTrainingJob,
  trainingUpdates,
  trainRun,
} from '../../usecases/training/training.usecases.js';
import type { GraphQLContext } from '../context.js';
import { toRun } from '../registry/registry.resolver.js';
import { Run } from '../registry/registry.types.js';
import { LearningCurveEpoch, TrainingStatusEnum, TrainRunInput, TrainingJob } from './training.types.js';

const toJob = (row: TrainingJobRow): TrainingJob =>
  Object.assign(new TrainingJob(), row, {
    status: row.status as TrainingStatusEnum,
    failure: row.failureCode === null ? null : { code: row.failureCode, message: row.failureMessage ?? '' },
  });

export const learningCurveEpoch = (row: LearningCurveEpochRow): LearningCurveEpoch =>
  Object.assign(new LearningCurveEpoch(), {
    epoch: row.epoch,
    step: row.step,
    learningRate: row.learningRate,
    trainLoss: row.trainLoss,
    trainAccuracy: row.trainAccuracy,
    testLoss: row.testLoss,
    testAccuracy: row.testAccuracy,
  });

@Resolver(() => TrainingJob)
export class TrainingResolver {
  @Mutation(() => TrainingJob, {
    description:
      'Creates a run and queues its training: initial state, a checkpoint every checkpointEvery epochs, final state, then trainLoss/trainAccuracy/testLoss/testAccuracy in its reportedMetrics. The same request again returns the same job.',
  })
  async trainRun(
    @Ctx() ctx: GraphQLContext,
    @Arg('input', () => TrainRunInput) input: TrainRunInput,
  ): Promise<TrainingJob> {
    return toJob(await trainRun(ctx.training, input));
  }

  @Mutation(() => TrainingJob, { description: 'Stops a queued or running training; checkpoints stored so far stay.' })
  async cancelTraining(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<TrainingJob> {
    return toJob(await cancelTraining(ctx.training, id));
  }

  @Query(() => TrainingJob)
  async trainingJob(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<TrainingJob> {
    return toJob(await getTrainingJob(ctx.training, id));
  }

  @Subscription(() => TrainingJob, {
    description:
      'The job as it stands, then after every epoch and status change; ends after COMPLETE, FAILED or CANCELLED. Over graphql-ws at /graphql.',
    subscribe: ({ args, context }) => {
      const ctx = context as GraphQLContext;
      return trainingUpdates(ctx.training, (args as { id: string }).id, ctx.pollMs);
    },
  })
  trainingJobUpdated(@Root() job: TrainingJobRow, @Arg('id', () => ID) _id: string): TrainingJob {
    return toJob(job);
  }

  @FieldResolver(() => Run)
  async run(@Ctx() ctx: GraphQLContext, @Root() job: TrainingJob): Promise<Run> {
    return toRun((await ctx.loaders.runById.load(job.runId))!);
  }
}

@Resolver(() => Run)
export class RunTrainingResolver {
  @FieldResolver(() => TrainingJob, {
    nullable: true,
    description: 'The training job that fills this run, when linpath trains it.',
  })
  async trainingJob(@Ctx() ctx: GraphQLContext, @Root() run: Run): Promise<TrainingJob | null> {
    const job = await ctx.training.training.findByRun(run.id);
    return job === undefined ? null : toJob(job);
  }

  @FieldResolver(() => [LearningCurveEpoch], {
    description:
      'Per-epoch train and test loss and accuracy of a run linpath trained (trainRun), in epoch order, as the worker recorded them after each epoch; empty for a run trained elsewhere or before its first epoch.',
  })
  async learningCurve(@Ctx() ctx: GraphQLContext, @Root() run: Run): Promise<LearningCurveEpoch[]> {
    return (await ctx.loaders.learningCurve.load(run.id)).map(learningCurveEpoch);
  }
}
