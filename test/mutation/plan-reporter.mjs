// A Stryker reporter that writes the test plan: per mutant its place, whether it is static (hit while modules
// load, so Stryker runs every test for it) and how many tests cover it. Used to find what makes a run slow.
import { writeFileSync, mkdirSync } from "node:fs";
import { PluginKind, declareClassPlugin } from "@stryker-mutator/api/plugin";

class PlanReporter {
    onMutationTestingPlanReady({ mutantPlans }) {
        const rows = mutantPlans.map(({ plan, mutant }) => ({
            file: mutant.fileName.replace(process.cwd() + "/", ""),
            line: mutant.location.start.line + 1,
            mutator: mutant.mutatorName,
            replacement: mutant.replacement,
            static: Boolean(mutant.static),
            tests: mutant.coveredBy?.length ?? 0,
            plan,
        }));
        mkdirSync("reports/mutation", { recursive: true });
        writeFileSync("reports/mutation/plan.json", JSON.stringify(rows, null, 1));
    }
}
export const strykerPlugins = [declareClassPlugin(PluginKind.Reporter, "plan", PlanReporter)];
