// A Stryker reporter that writes the test plan: per mutant its place, whether it is static (hit while modules
// load, so Stryker runs every test for it) and how many tests cover it; and, as the run goes, when each mutant's
// result came (reports/mutation/timing.json: seconds since the plan, per mutant). Used to find what makes a run slow.
import { writeFileSync, mkdirSync } from "node:fs";
import { PluginKind, declareClassPlugin } from "@stryker-mutator/api/plugin";

class PlanReporter {
    start = 0;
    timing = [];
    onMutationTestingPlanReady({ mutantPlans }) {
        this.start = Date.now();
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
    onMutantTested(m) {
        this.timing.push({ file: m.fileName.replace(process.cwd() + "/", ""), line: m.location.start.line + 1, status: m.status, tests: m.testsCompleted ?? 0, at: (Date.now() - this.start) / 1000 });
        if (this.timing.length % 50 === 0) this.write();
    }
    onMutationTestReportReady() {
        this.write();
    }
    write() {
        writeFileSync("reports/mutation/timing.json", JSON.stringify(this.timing));
    }
}
export const strykerPlugins = [declareClassPlugin(PluginKind.Reporter, "plan", PlanReporter)];
