import { Arg, Ctx, Query, Resolver, UseMiddleware } from 'type-graphql';
import { studyReport } from '../../usecases/report.usecases.js';
import type { GraphQLContext } from '../context.js';
import { randomInitFor } from '../derive/derive.resolver.js';
import { LimitEvaluations } from '../pipeline/evaluation-slots.js';
import { stripNulls, toRun } from '../registry/registry.resolver.js';
import { ReportInput, StudyReport } from './report.types.js';

@Resolver()
export class ReportResolver {
  @Query(() => StudyReport, {
    description:
      "A table in the style of the seed study's Table 1: per intervention, shape classes of the whole model and each block, test accuracy (mean ± std over runs), barrier height and its correlation with accuracy. Missing curves are queued and awaited.",
  })
  @UseMiddleware(LimitEvaluations)
  async report(@Ctx() ctx: GraphQLContext, @Arg('input', () => ReportInput) input: ReportInput): Promise<StudyReport> {
    const report = await studyReport(
      { ...ctx.analytics, randomInit: randomInitFor(ctx) },
      { ...input, runs: stripNulls(input.runs) },
    );
    return {
      ...report,
      groups: report.groups.map((g) => ({ ...g, runs: g.runs.length })),
      missing: report.missing.map((m) => ({ ...m, run: toRun(m.run) })),
    };
  }
}
